// Swagger UI for /docs, served from this installation (no CDN, no inline script: strict CSP).
window.addEventListener("DOMContentLoaded", function () {
  // eslint-disable-next-line no-undef
  SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});

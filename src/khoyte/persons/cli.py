"""``khoyte persons link|links|merge|unmerge|requests``: the master person index from the
command line, and the register of data subjects' requests."""

from __future__ import annotations

import csv
import sys
from enum import StrEnum
from typing import Annotated

import typer

from khoyte.registry.cli import _audit, store_session

persons_app = typer.Typer(
    help="Chỉ mục người bệnh và mã định danh y tế / master person index and health IDs.",
    no_args_is_help=True,
)


class LinksFormat(StrEnum):
    csv = "csv"


@persons_app.command("link")
def link_cmd(
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Ước lượng lại mô hình / re-estimate the model.")
    ] = False,
) -> None:
    """Liên kết hàng loạt các hồ sơ đã nhận / batch-link every accepted record."""
    from khoyte.config import Settings
    from khoyte.persons.index import PersonIndex, store_identities
    from khoyte.services import build_services
    from khoyte.store.db import session_scope

    services = build_services(Settings(), warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            summary = PersonIndex().batch(s, store_identities(services.engine), retrain=retrain)
            _audit(s, "person.batch_link", "persons", {
                "records": summary.records, "new": summary.new_records,
                "review_items": summary.review_items})  # fmt: skip
    finally:
        services.close()
    typer.echo(
        f"Hồ sơ / records: {summary.records} (mới / new {summary.new_records})\n"
        f"Cặp đã so sánh / pairs compared: {summary.compared}\n"
        f"Liên kết theo khóa / deterministic links: {summary.deterministic_links}\n"
        f"Liên kết tự động / links (Splink): {summary.auto_links}\n"
        f"Cần xem xét / review items: {summary.review_items}\n"
        f"Số người / persons: {summary.persons}\n"
        f"Thời gian / time: {summary.seconds:.1f} s"
    )


@persons_app.command("links")
def links_cmd(
    format: Annotated[LinksFormat, typer.Option("--format", "-f")] = LinksFormat.csv,
) -> None:
    """Mã định danh y tế của từng hồ sơ / the health ID of every accepted record (CSV)."""
    from khoyte.persons.index import PersonIndex, links, load_model

    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["ma_cskcb", "ma_lk", "health_id"])
    with store_session() as s:
        # Records received since (``khoyte ingest`` calls no web hook) are linked first, online.
        if load_model(s) is not None:
            PersonIndex().catch_up(s, s.get_bind())  # type: ignore[arg-type]
        for row in links(s):
            w.writerow(row)


@persons_app.command("merge")
def merge_cmd(survivor: str, absorbed: str) -> None:
    """Gộp hai mã định danh / merge two health IDs (the second into the first)."""
    from khoyte.persons.index import PersonIndex

    with store_session() as s:
        event = PersonIndex().merge(s, survivor, absorbed, "cli")
    typer.echo(f"Đã gộp / merged (sự kiện / event {event})")


@persons_app.command("unmerge")
def unmerge_cmd(event: int) -> None:
    """Hoàn tác một lần gộp / undo a merge."""
    from khoyte.persons.index import PersonIndex

    try:
        with store_session() as s:
            PersonIndex().unmerge(s, event, "cli")
    except LookupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Đã tách / unmerged {event}")


requests_app = typer.Typer(
    help="Yêu cầu của chủ thể dữ liệu (Nghị định 13/2023) / data subjects' requests.",
    no_args_is_help=True,
)
persons_app.add_typer(requests_app, name="requests")


@requests_app.command("add")
def request_add(
    kind: Annotated[
        str, typer.Argument(help="access | correction | deletion | restriction | objection")
    ],
    requester: Annotated[str, typer.Option("--requester", help="Người yêu cầu / who asked")],
    health_id: Annotated[str | None, typer.Option("--health-id")] = None,
    detail: Annotated[str | None, typer.Option("--detail", help="Nội dung / what they ask")] = None,
) -> None:
    """Ghi một yêu cầu (hạn 72 giờ) / record a request (due in 72 hours)."""
    from khoyte.persons import requests as reg

    try:
        with store_session() as s:
            row = reg.record_request(s, "cli", kind, requester, health_id, detail)
            _audit(s, "person.request", f"request:{row.id}",
                   {"kind": row.kind, "health_id": row.health_id})  # fmt: skip
            rid, due = row.id, row.due_at
    except reg.RequestError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Yêu cầu / request {rid}, hạn / due {due.isoformat(timespec='minutes')}")


@requests_app.command("answer")
def request_answer(
    request_id: int,
    outcome: Annotated[str, typer.Argument(help="done | partly | refused")],
    answer: Annotated[str, typer.Argument(help="Nội dung trả lời / the answer")],
) -> None:
    """Ghi câu trả lời / record the answer to a request."""
    from khoyte.persons import requests as reg

    try:
        with store_session() as s:
            row = reg.answer_request(s, request_id, "cli", outcome, answer)
            _audit(s, "person.request.answer", f"request:{row.id}",
                   {"outcome": row.status, "kind": row.kind})  # fmt: skip
    except (LookupError, reg.RequestError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Đã trả lời / answered {request_id}")


@requests_app.command("list")
def request_list(
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Chỉ các yêu cầu quá hạn / overdue only")
    ] = False,
) -> None:
    """Sổ yêu cầu (CSV) / the register as CSV; exit 1 when a request is overdue."""
    from khoyte.persons import requests as reg

    with store_session() as s:
        items = reg.listing(s, overdue=overdue)
        _audit(s, "person.request.list", "subject-requests", {"rows": len(items)})
    cols = ["id", "kind", "health_id", "requester", "received_at", "due_at", "status",
            "answered_by", "answered_at", "overdue"]  # fmt: skip
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(cols)
    for it in items:
        w.writerow([it[c] for c in cols])
    if any(it["overdue"] and it["status"] == "open" for it in items):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(persons_app, name="persons")

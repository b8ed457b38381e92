# Test oracle: run R `surveillance` on a series and print idx,observed,expected,upperbound,alarm.
# Usage: Rscript oracle.R ALGORITHM SOURCE FREQ FROM TO [NAME=VALUE ...]
#    or: Rscript oracle.R --jobs FILE   (one job a line, the same arguments separated by tabs;
#                                         each job's output follows a line "#job N")
#   ALGORITHM: ears_c1|ears_c2|ears_c3|farrington|farrington_flexible, or series (print it)
#   SOURCE: a CSV with columns idx,observed, or "data:NAME[:COLUMN]" (a data set of the package)
#   FROM/TO: 1-based range, or NA for the algorithm's default range. VALUEs are R expressions.
suppressPackageStartupMessages(library(surveillance))

load_series <- function(source) {
  if (!startsWith(source, "data:")) return(read.csv(source)$observed)
  parts <- strsplit(sub("^data:", "", source), ":")[[1]]
  e <- new.env()
  data(list = parts[1], package = "surveillance", envir = e)
  obj <- get(parts[1], envir = e)
  col <- if (length(parts) > 1) as.integer(parts[2]) else 1L
  if (inherits(obj, "sts")) observed(obj)[, col] else as.matrix(obj$observed)[, col]
}

run_job <- function(args) {
  algorithm <- args[1]
  y <- load_series(args[2])
  freq <- as.integer(args[3])
  n <- length(y)
  if (algorithm == "series") {
    cat("idx,observed\n")
    cat(paste(seq_len(n), y, sep = ","), sep = "\n")
    cat("\n")
    return(invisible())
  }
  control <- list()
  if (args[4] != "NA") control$range <- as.integer(args[4]):as.integer(args[5])
  for (a in args[-(1:5)]) {
    kv <- regmatches(a, regexpr("=", a), invert = TRUE)[[1]]
    control[[kv[1]]] <- eval(parse(text = kv[2]))
  }
  if (startsWith(algorithm, "ears_c")) {
    control$method <- toupper(sub("ears_", "", algorithm))
    res <- earsC(sts(observed = y, frequency = freq), control = control)
    out <- data.frame(idx = res@control$range, observed = observed(res)[, 1], expected = NA,
                      upperbound = upperbound(res)[, 1], alarm = alarms(res)[, 1])
  } else if (algorithm == "farrington") {
    dp <- suppressWarnings(create.disProg(week = 1:n, observed = y, state = rep(0, n),
                                          freq = freq))
    res <- suppressWarnings(algo.farrington(dp, control = control))
    rng <- res$control$range
    out <- data.frame(idx = rng, observed = y[rng], expected = res$control$pd[, 2],
                      upperbound = res$upperbound[, 1], alarm = res$alarm[, 1] == 1)
  } else if (algorithm == "farrington_flexible") {
    if (is.null(control$range)) {
      b <- if (is.null(control$b)) 5 else control$b
      w <- if (is.null(control$w)) 3 else control$w
      control$range <- (freq * b + w + 1):n
    }
    res <- suppressWarnings(farringtonFlexible(sts(observed = y, frequency = freq),
                                               control = control))
    out <- data.frame(idx = control$range, observed = observed(res)[, 1],
                      expected = res@control$expected[, 1],
                      upperbound = upperbound(res)[, 1], alarm = alarms(res)[, 1])
  } else stop("unknown algorithm ", algorithm)
  num <- function(v) ifelse(is.na(v), "", sprintf("%.17g", v))
  lgl <- function(v) ifelse(is.na(v), "", ifelse(v, "TRUE", "FALSE"))
  cat("idx,observed,expected,upperbound,alarm\n")
  cat(paste(out$idx, num(out$observed), num(out$expected), num(out$upperbound),
            lgl(out$alarm), sep = ","), sep = "\n")
  cat("\n")
}

args <- commandArgs(trailingOnly = TRUE)
if (args[1] == "--jobs") {
  jobs <- readLines(args[2])
  for (i in seq_along(jobs)) {
    cat("#job ", i, "\n", sep = "")
    run_job(strsplit(jobs[i], "\t")[[1]])
  }
} else {
  run_job(args)
}

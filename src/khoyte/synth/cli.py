"""``khoyte synth``: write a synthetic province."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from khoyte.synth.exporters import MODES
from khoyte.synth.generate import SynthConfig, run
from khoyte.synth.visits import Outbreak


def parse_outbreak(text: str) -> Outbreak:
    """``ICD,COMMUNE,START,WEEKS,FACTOR``, e.g. ``A97.0,28249,2025-08-01,4,5``."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 5:
        raise typer.BadParameter(
            f"--outbreak cần 5 phần ICD,MÃ_XÃ,NGÀY_BẮT_ĐẦU,SỐ_TUẦN,HỆ_SỐ / "
            f"needs ICD,COMMUNE,START,WEEKS,FACTOR: {text!r}"
        )
    code, commune, start, weeks, factor = parts
    try:
        return Outbreak(code, commune, date.fromisoformat(start), int(weeks), float(factor))
    except ValueError as exc:
        raise typer.BadParameter(f"--outbreak {text!r}: {exc}") from exc


def synth(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Thư mục kết quả / output folder.")
    ] = Path("synth-out"),
    seed: Annotated[int, typer.Option(help="Hạt giống ngẫu nhiên / random seed.")] = 1,
    population: Annotated[int, typer.Option(help="Dân số / population.")] = 5000,
    start: Annotated[str, typer.Option(help="Ngày đầu / first day (YYYY-MM-DD).")] = "2025-01-01",
    end: Annotated[str, typer.Option(help="Ngày cuối / last day (YYYY-MM-DD).")] = "2025-03-31",
    province: Annotated[str, typer.Option(help="Mã tỉnh 2025 / 2025 province code.")] = "82",
    dirty: Annotated[
        float, typer.Option(help="Tỷ lệ lỗi chèn vào / share of records with injected defects.")
    ] = 0.0,
    per_visit: Annotated[
        bool, typer.Option("--per-visit", help="Một tệp mỗi lượt khám / one file per visit.")
    ] = False,
    outbreak: Annotated[
        list[str] | None,
        typer.Option(help="Ổ dịch / outbreak: ICD,COMMUNE,START,WEEKS,FACTOR (repeatable)."),
    ] = None,
    jobs: Annotated[int, typer.Option(help="Số tiến trình / worker processes.")] = 1,
    exporters: Annotated[
        str,
        typer.Option(
            help="Phần mềm xuất dữ liệu / exporters: standard (đúng chuẩn / the written "
            "standard) hoặc / or families (quy ước thực tế theo cơ sở / real conventions per "
            "facility, docs/synth.md)."
        ),
    ] = "standard",
    aggregates_from: Annotated[
        str | None,
        typer.Option(
            help="Báo cáo tổng hợp từ ngày / aggregate reports from (YYYY-MM-DD), e.g. years "
            "before --start: the history seasonal outlier checks need."
        ),
    ] = None,
    exporter_cdata: Annotated[
        bool,
        typer.Option(
            "--exporter-cdata",
            help="Họ B ghi bảng con dạng CDATA / family B writes inner tables as CDATA.",
        ),
    ] = False,
    referral_followup: Annotated[
        float,
        typer.Option(
            help="Tỷ lệ chuyển tuyến trong ngày có lượt khám ở nơi đến / share of same-day "
            "referrals followed by a visit at the destination (truth/episodes.csv)."
        ),
    ] = 0.0,
    programmes: Annotated[
        bool,
        typer.Option(
            "--programmes",
            help="Báo cáo chương trình (kiểm soát bệnh, giám định) và kế hoạch theo quy mô dân "
            "số / programme reports (disease control, assessment) and a plan at the province's "
            "scale (aggregates/*-chuong-trinh.csv, aggregates/ke_hoach.csv).",
        ),
    ] = False,
) -> None:
    """Sinh dữ liệu tỉnh giả lập / write a synthetic province (claim XML, manifest, aggregates)."""
    console = Console(stderr=True)
    try:
        cfg = SynthConfig(
            seed=seed,
            population=population,
            start=date.fromisoformat(start),
            end=date.fromisoformat(end),
            province=province.zfill(2),
            dirty=dirty,
            per_visit=per_visit,
            outbreaks=tuple(parse_outbreak(o) for o in outbreak or []),
            jobs=max(1, jobs),
            exporters=exporters,
            exporter_cdata=exporter_cdata,
            referral_followup=referral_followup,
            programmes=programmes,
            aggregates_from=date.fromisoformat(aggregates_from) if aggregates_from else None,
        )
        if exporters not in MODES:
            raise ValueError(f"--exporters: {exporters!r} ∉ {', '.join(MODES)}")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if cfg.end >= date.today():
        console.print(
            "[yellow]Cảnh báo / warning:[/] ngày trong tương lai sẽ bị khoyte validate báo lỗi "
            "FUTURE / future dates are rejected by khoyte validate."
        )
    ndays = (cfg.end - cfg.start).days + 1
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[visits]:,} lượt khám / visits"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("Sinh dữ liệu / generating", total=ndays, visits=0)
        seen = 0

        def step(day: date, visits: int) -> None:
            nonlocal seen
            seen += visits
            bar.update(task, advance=1, visits=seen, description=f"{day.isoformat()}")

        try:
            manifest = run(cfg, out, step)
        except (ValueError, KeyError) as exc:
            console.print(f"[red]Lỗi / error:[/] {exc}")
            raise typer.Exit(2) from exc
    tot = manifest["totals"]
    console.print(
        f"[green]✔[/] {tot['visits']:,} lượt khám / visits, "
        f"{manifest['files']['count']:,} tệp / files, {manifest['files']['bytes'] / 1e6:,.1f} MB, "
        f"{len(manifest['defects'])} lỗi chèn / defects → {out}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)

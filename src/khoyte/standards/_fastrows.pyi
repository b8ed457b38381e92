"""Types of the compiled accelerator (``_fastrows.pyx``)."""

from lxml import etree

from khoyte.standards.reader import FastPlan, RawRow

def read_rows(
    root: etree._Element,
    record: str,
    root_is_record: bool,
    row_type: type[RawRow],
    plan: FastPlan | None,
) -> list[RawRow] | None: ...
def hoso_files(hoso: etree._Element) -> list[tuple[str | None, str | None]]: ...
def child_names(root: etree._Element) -> set[str]: ...

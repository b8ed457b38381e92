"""Types of the compiled accelerator (``_fastrows.pyx``)."""

from collections.abc import Callable, Container

from lxml import etree

from khoyte.standards.model import Row
from khoyte.standards.reader import FastPlan, RawRow

def read_rows(
    root: etree._Element,
    table_root: str,
    record: str,
    single: bool,
    row_type: type[RawRow],
    plan: FastPlan | None,
) -> list[RawRow | Row] | None: ...
def hoso_documents(
    hoso: etree._Element,
    allowed: Container[str],
    parse: Callable[[bytes], etree._Element],
    fromstring: Callable[[bytes, etree.XMLParser], etree._Element],
    parser: etree.XMLParser,
) -> list[tuple[str, etree._Element]] | None: ...
def child_names(root: etree._Element) -> set[str]: ...

from khoyte.standards.fields import qd130_tables


def test_sixteen_tables() -> None:
    assert sorted(qd130_tables(), key=lambda t: int(t[3:])) == [f"XML{i}" for i in range(16)]

from tests.test_picking import Scanner, make_order, order, stock, wh  # noqa


def test_dbg(as_role, wh):  # noqa
    stock("A-01", "PLAIN", 10)
    stock("B-01", "PLAIN", 10)
    stock("A-01", "OTHER", 5)
    make_order("SO-1", PLAIN=1)
    make_order("SO-2", OTHER=1)
    s = Scanner(as_role("packer"), "/pick")
    s.scan("SO-1").scan("", skip_location="A-01")
    s.scan("", redo="order")
    s.scan("SO-2")
    import re
    print(s.fields, re.findall(r'data-testid="pick-task">[^<]*', s.html))

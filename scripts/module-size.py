"""Lines of code per module outside its DOCUMENTATION, EXAMPLES and RETURN strings (issue 9: at most 300).

``outside`` is every line of the file but those of the three documentation assignments (what the issue
measured); ``code`` leaves out blank and comment-only lines too. Prints a table, largest first; exits 1
when a module's ``outside`` count is above the limit.
"""
import argparse
import ast
import pathlib
import sys

DOC_NAMES = ("DOCUMENTATION", "EXAMPLES", "RETURN")


def doc_lines(tree):
    """The line numbers (1-based) taken by the documentation assignments."""
    lines = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in DOC_NAMES for t in node.targets):
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def sizes(path):
    """(lines outside the docs, code lines, all lines) of one module."""
    text = pathlib.Path(path).read_text(encoding="utf-8")
    docs = doc_lines(ast.parse(text, filename=str(path)))
    lines = text.splitlines()
    outside = [line.strip() for number, line in enumerate(lines, 1) if number not in docs]
    code = sum(1 for line in outside if line and not line.startswith("#"))
    return len(outside), code, len(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parent.parent))
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()
    modules = sorted(pathlib.Path(args.root, "plugins", "modules").glob("*.py"))
    rows = sorted(((sizes(m), m.stem) for m in modules if m.name != "__init__.py"), reverse=True)
    width = max(len(name) for _sizes, name in rows)
    print("%-*s  %7s  %5s  %5s" % (width, "module", "outside", "code", "file"))
    over = []
    for (outside, code, total), name in rows:
        flag = "  ABOVE %d" % args.limit if outside > args.limit else ""
        print("%-*s  %7d  %5d  %5d%s" % (width, name, outside, code, total, flag))
        if outside > args.limit:
            over.append(name)
    print("%d modules; outside = lines outside DOCUMENTATION/EXAMPLES/RETURN, code = those without blank and"
          " comment lines; limit %d (outside)" % (len(rows), args.limit))
    if over:
        print("above the limit: %s" % ", ".join(over), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

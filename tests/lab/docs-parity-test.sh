#!/usr/bin/env bash
# The English and Japanese lab guides say the same thing where it can be
# checked without reading the prose:
#   tests/lab/docs-parity-test.sh [EN JA]   (default docs/lab.md docs/lab.ja.md)
# - the same fenced code blocks, byte for byte (fence line included), in order;
# - the same tables, in order: same number, same rows x columns each; a cell
#   whose text outside `code` has no letter (numbers, ports, ranges) is the
#   same in both, and every cell has the same `code` spans in the same order;
#   a table whose header row is the same in both (the lab's own output, not
#   translated) is the same in both, cell for cell;
# - the same images, in order, and each image file exists;
# - the lab's own table as scripts/lib/lab-common.sh prints it today (its
#   header, read from lab_print_markdown) is there, and its "logged in" and
#   "cart" cells are in the lab's words ("8/8", "logged out 8/8",
#   "2/8, cart lost 6/8", "-").
# It first checks itself on altered copies of EN (each must be caught), then
# compares EN and JA. Offline, python3 only, well under a second.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
en=${1:-$root/docs/lab.md}
ja=${2:-$root/docs/lab.ja.md}
for f in "$en" "$ja"; do
    [[ -f $f ]] || { echo "docs-parity: no file $f" >&2; exit 2; }
done

python3 - "$en" "$ja" "$root/scripts/lib/lab-common.sh" <<'PY'
import os
import re
import sys

FENCE = re.compile(r"^(\s*)(```+|~~~+)(.*)$")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")


def parse(text):
    """Code blocks (fence + body, verbatim), tables (list of rows of cells)
    and image targets, in document order."""
    codes, tables, images = [], [], []
    lines = text.split("\n")
    i, table = 0, None
    while i < len(lines):
        line = lines[i]
        m = FENCE.match(line)
        if m:
            table = None
            indent, fence = m.group(1), m.group(2)
            block = [line]
            i += 1
            while i < len(lines):
                block.append(lines[i])
                close = FENCE.match(lines[i])
                if close and close.group(1) == indent and close.group(2).startswith(fence[0] * len(fence)) \
                        and close.group(3).strip() == "":
                    break
                i += 1
            codes.append("\n".join(block))
            i += 1
            continue
        stripped = line.strip()
        if stripped.startswith("|"):
            row = split_row(stripped)
            if table is None:
                table = []
                tables.append(table)
            if not all(re.fullmatch(r":?-{3,}:?", c) for c in row):
                table.append(row)
        else:
            table = None
        images.extend(IMAGE.findall(line))
        i += 1
    return codes, tables, images


def split_row(line):
    """Cells of a table row: split on | outside `code` and not escaped."""
    cells, cur, in_code, k = [], "", False, 0
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    while k < len(body):
        ch = body[k]
        if ch == "\\" and k + 1 < len(body):
            cur += body[k:k + 2]
            k += 2
            continue
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
        k += 1
    cells.append(cur.strip())
    return cells


def code_spans(cell):
    return re.findall(r"`[^`]*`", cell)


def plain(cell):
    """A cell that is numbers/code: no letter outside its code spans."""
    rest = re.sub(r"`[^`]*`", "", cell)
    return not any(ch.isalpha() for ch in rest)


def compare(en_text, ja_text, en_dir, ja_dir):
    problems = []
    ec, et, ei = parse(en_text)
    jc, jt, ji = parse(ja_text)
    if len(ec) != len(jc):
        problems.append(f"code blocks: {len(ec)} in EN, {len(jc)} in JA")
    for n, (a, b) in enumerate(zip(ec, jc), 1):
        if a != b:
            al, bl = a.split("\n"), b.split("\n")
            at = next((k for k in range(max(len(al), len(bl)))
                       if k >= len(al) or k >= len(bl) or al[k] != bl[k]), 0)
            problems.append(f"code block {n} differs at its line {at + 1}:\n"
                            f"    EN: {al[at] if at < len(al) else '(ends)'}\n"
                            f"    JA: {bl[at] if at < len(bl) else '(ends)'}")
    if len(et) != len(jt):
        problems.append(f"tables: {len(et)} in EN, {len(jt)} in JA")
    for n, (a, b) in enumerate(zip(et, jt), 1):
        head = (a[0] if a else ["?"])[0]
        name = f"table {n} (first cell '{head}')"
        if len(a) != len(b):
            problems.append(f"{name}: {len(a)} rows in EN, {len(b)} in JA")
            continue
        same_head = bool(a) and a[0] == b[0]
        for r, (ra, rb) in enumerate(zip(a, b)):
            if len(ra) != len(rb):
                problems.append(f"{name} row {r + 1}: {len(ra)} columns in EN, {len(rb)} in JA")
                continue
            for c, (ca, cb) in enumerate(zip(ra, rb)):
                where = f"{name} row {r + 1} column {c + 1}"
                if same_head and ca != cb:
                    problems.append(f"{where} (an untranslated table): EN '{ca}', JA '{cb}'")
                elif code_spans(ca) != code_spans(cb):
                    problems.append(f"{where}: code EN {code_spans(ca)}, JA {code_spans(cb)}")
                elif plain(ca) and ca != cb:
                    problems.append(f"{where}: EN '{ca}', JA '{cb}'")
    if ei != ji:
        problems.append(f"images: EN {ei}, JA {ji}")
    for d, imgs in ((en_dir, ei), (ja_dir, ji)):
        for img in imgs:
            if not re.match(r"[a-z]+:", img) and not os.path.isfile(os.path.join(d, img)):
                problems.append(f"image {img} missing next to {d}")
    return problems


def lab_header(lab_common):
    """The header row lab_print_markdown prints, as cells."""
    m = re.search(r'"(\| step \| setup \|[^"]*\|)",', open(lab_common, encoding="utf-8").read())
    if not m:
        sys.exit(f"docs-parity: no table header in {lab_common}")
    return split_row(m.group(1))


KEPT = {"logged in": "logged out", "cart": "cart lost"}


def kept_ok(cell, lost):
    n = r"\d+/\d+"
    return re.fullmatch(rf"-|{n}|{lost} {n}|{n}, {lost} {n}", cell) is not None


def lab_table_problems(text, header):
    """The lab's current table must be in text, its two columns worded as
    the lab words them."""
    tables = [t for t in parse(text)[1] if t and t[0] == header]
    if not tables:
        return [f"no table with the lab's header ({' | '.join(header)})"]
    problems = []
    for t in tables:
        for r, row in enumerate(t[1:], 2):
            for col, lost in KEPT.items():
                if col in header and len(row) == len(header) and not kept_ok(row[header.index(col)], lost):
                    problems.append(f"lab table row {r} ('{row[0]}'): '{col}' cell '{row[header.index(col)]}'"
                                    f" is not 'K/N', '{lost} L/N' or 'K/N, {lost} L/N'")
    return problems


en_path, ja_path = sys.argv[1], sys.argv[2]
header = lab_header(sys.argv[3])
en_text = open(en_path, encoding="utf-8").read()
ja_text = open(ja_path, encoding="utf-8").read()
en_dir, ja_dir = os.path.dirname(en_path) or ".", os.path.dirname(ja_path) or "."

# Self-check: each alteration of EN must be reported against EN itself.
assert compare(en_text, en_text, en_dir, en_dir) == [], "docs-parity: EN differs from itself"
ec, et, _ = parse(en_text)
alterations = []
if ec:
    body = ec[0].split("\n")
    if len(body) > 2:
        body[1] += " "
        alterations.append(("a code block's line", en_text.replace(ec[0], "\n".join(body), 1)))
    alterations.append(("a code block dropped", en_text.replace(ec[-1], "", 1)))
row_line = next((l for l in en_text.split("\n") if l.startswith("|") and not l.startswith("|---")
                 and re.search(r"\d", l)), None)
if row_line:
    alterations.append(("a table row dropped", en_text.replace(row_line + "\n", "", 1)))
    alterations.append(("a number in a table", en_text.replace(row_line, re.sub(r"\d", lambda m: str((int(m.group()) + 1) % 10), row_line, count=1), 1)))
    alterations.append(("a column added", en_text.replace(row_line, row_line + " x |", 1)))
for what, altered in alterations:
    if not compare(en_text, altered, en_dir, en_dir):
        sys.exit(f"docs-parity: self-check failed: {what} went unnoticed")
# The lab-table check, on altered copies of EN (only when EN passes it).
if not lab_table_problems(en_text, header):
    line = "| " + " | ".join(header) + " |"
    lab_alterations = [("the lab table's header", en_text.replace(line, "| " + " | ".join(header[:-1]) + " |"))]
    cell_line = next((l for l in en_text.split("\n") if l.startswith("|") and re.search(r"logged out \d", l)), None)
    if cell_line:
        lab_alterations.append(("a 'logged in' cell reworded",
                                en_text.replace(cell_line, cell_line.replace("logged out", "signed out", 1), 1)))
    for what, altered in lab_alterations:
        if not lab_table_problems(altered, header):
            sys.exit(f"docs-parity: self-check failed: {what} went unnoticed")
    alterations += lab_alterations

problems = compare(en_text, ja_text, en_dir, ja_dir)
for name, text in (("EN", en_text), ("JA", ja_text)):
    problems += [f"{name}: {p}" for p in lab_table_problems(text, header)]
ec, et, ei = parse(en_text)
if problems:
    print(f"docs-parity: {en_path} and {ja_path} differ ({len(problems)}):", file=sys.stderr)
    for p in problems:
        print("  - " + p, file=sys.stderr)
    sys.exit(1)
print(f"docs-parity: ok — {len(ec)} code blocks, {len(et)} tables, {len(ei)} images the same "
      f"(self-check: {len(alterations)} alterations caught)")
PY

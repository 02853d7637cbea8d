"""Benchmark: the import reader (bytes → text → CSV batches) before and after issue 16's
file handling (encoding decided by charset-normalizer, delimiter outside quotes, the
Salesforce footer, the Twenty guard), in one run.

"before" is ``salescli/pipeline/import_read.py`` as it stands at REF (default ``main``,
read with ``git show``), "after" the working tree's. Both read the same 100k-row UTF-8
file (names with accents, a few guarded cells), interleaved, ``--repeat`` times; the
medians of CPU time (steadier than wall time on a shared machine) and their ratio are
printed. The after side also reads the same rows as Windows-1252 and as UTF-16 (which
the before side refused), and a 100k-row workbook (.xlsx) for scale.

    python benchmarks/bench_import_read.py [--rows 100000] [--repeat 5] [--ref main]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NAMES = ["Ana Souza", "Zoë Grüber", "François Dubois", "Chloé Lefèvre", "Bo Li", "Sofía Peña",
         "Jörg Müller", "Åsa Öberg", "Tomás O'Neil", "Mia Rossi"]
COMPANIES = ["Acme", "Bäckerei Groß", "Café Noël", "Globex", "Initech", "Zoë & Co"]


def rows(n: int) -> str:
    rnd = random.Random(16)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Email", "Name", "Company", "Value", "Notes", "Created At"])
    for i in range(n):
        notes = "'=guarded" if i % 1000 == 0 else rnd.choice(["", "call back", "it’s “hot”",
                                                             "met at fair\nfollow up"])
        writer.writerow([f"p{i}@example.com", rnd.choice(NAMES), rnd.choice(COMPANIES),
                         f"{rnd.randint(0, 99999)}.{rnd.randint(0, 99):02d}", notes,
                         f"2025-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"])
    return out.getvalue()


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def read(module, data: bytes, name: str) -> tuple[float, int]:
    """CPU seconds to read every batch, and the rows read."""
    start = time.process_time()
    source = module.Source.of(data, name)
    _, _, pieces = module.open_text(source, None)
    _, batches = module.read_csv(source, pieces)
    count = sum(len(numbers) for numbers, _, _ in batches)
    return time.process_time() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ref", default="main")
    args = parser.parse_args()

    text = rows(args.rows)
    utf8 = text.encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        old_path = Path(tmp) / "import_read_before.py"
        old_path.write_bytes(subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{args.ref}:salescli/pipeline/import_read.py"],
            check=True, capture_output=True).stdout)
        before = load(old_path, "import_read_before")
        from salescli.pipeline import import_read as after

        times: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.repeat):
            for side, module in (("before", before), ("after", after)):
                seconds, count = read(module, utf8, "leads.csv")
                assert count == args.rows, (side, count)
                times[side].append(seconds)
        b, a = statistics.median(times["before"]), statistics.median(times["after"])
        print(f"{args.rows} rows, UTF-8 ({len(utf8) / 1e6:.1f} MB), median CPU of "
              f"{args.repeat}: before {b:.3f} s, after {a:.3f} s, ratio {a / b:.3f}")
        for label, data in (("Windows-1252", text.encode("cp1252")),
                            ("UTF-16", text.encode("utf-16"))):
            seconds = statistics.median(read(after, data, "leads.csv")[0]
                                        for _ in range(args.repeat))
            print(f"after, {label}: {seconds:.3f} s CPU ({seconds / a:.2f}× UTF-8)")
        book = Path(tmp) / "leads.xlsx"
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        sheet = wb.create_sheet()
        for row in csv.reader(io.StringIO(text)):
            sheet.append(row)
        wb.save(book)
        seconds, count = read(after, book.read_bytes(), "leads.xlsx")
        assert count == args.rows, count
        print(f"after, .xlsx ({book.stat().st_size / 1e6:.1f} MB): {seconds:.3f} s CPU "
              f"({seconds / a:.1f}× UTF-8)")


if __name__ == "__main__":
    main()

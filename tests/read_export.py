"""Reads a `creditburn export` file with readers other than the writer's: Python's csv
module for CSV, Apache Arrow (what pandas reads Parquet with) for Parquet. Prints JSON:
the column names, the Arrow types (Parquet), and every row as a list of strings or
numbers, so the Rust test checks the figures the way a spreadsheet would see them."""

import csv
import json
import sys

path, fmt = sys.argv[1], sys.argv[2]
if fmt == "csv":
    with open(path, newline="") as f:
        reader = csv.reader(f)
        columns = next(reader)
        rows = [row for row in reader]
    print(json.dumps({"columns": columns, "types": None, "rows": rows}))
else:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = table.column_names
    types = [str(t) for t in table.schema.types]
    data = table.to_pylist()
    rows = [[None if r[c] is None else (str(r[c]) if c == "date" else r[c]) for c in columns] for r in data]
    print(json.dumps({"columns": columns, "types": types, "rows": rows}))

"""Write the Parquet interop fixtures of fsl-datasets, and check a Parquet file fsl wrote.

Run from the crate folder (crates/fsl-datasets); the paths resolve from this file, so any
working folder works:

    python3 tests/reference/generate_parquet.py          # rewrite tests/fixtures/parquet/
    python3 tests/reference/generate_parquet.py --check  # read fsl_written.parquet back

The first form writes, into tests/fixtures/parquet/:
- pyarrow_types.parquet (pyarrow) and pandas_types.parquet (pandas): every string and binary
  encoding, nullable columns with nulls, and three row groups;
- missing_label.parquet, integer_label.parquet and string_image.parquet: a table without the
  `label` column, one with integer labels, and one with image bytes stored as text;
- expected_rows.json: the column names, types, row groups and values that pyarrow reads back
  from the first two files;
- fsl_rows.json: the rows of FSL_ROWS below.
The Rust tests in tests/parquet_interop.rs read these files with fsl and compare each column
with the JSON, so they never need Python.

The second form checks the other direction. tests/parquet_interop.rs writes the rows of
fsl_rows.json to fsl_written.parquet (run `FSL_UPDATE_FIXTURES=1 cargo test -p fsl-datasets
--test parquet_interop` to rewrite the committed file). This script reads that file with
pyarrow and with pandas and exits with status 1 if any value differs from FSL_ROWS.

Written with Python 3.11.7, pyarrow 26.0.1, pandas 3.1.1. In JSON, binary values are lowercase
hex strings and nulls are null.
"""

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "parquet"

# Omniglot alphabet names contain parentheses and underscores, and a user's own classes may
# be in any script, so the labels mix both.
LABELS = [
    "Japanese_(katakana)",
    "N_Ko",
    "Ελληνικά_(Greek)",
    "中文 汉字",
    "Japanese_(katakana)",
]

# Short byte strings that stand in for encoded images: a PNG signature, a zero byte inside the
# value, and an empty value (which is not a null).
IMAGES = [
    b"\x89PNG\r\n\x1a\n\x00",
    b"\x00\x01\x02",
    b"\xff\xfe",
    b"",
    b"\x89PNG\r\n\x1a\n\x05",
]

PATHS = ["a/0.png", None, "Ελληνικά_(Greek)/2.png", None, "a/4.png"]
DRAWERS = [1, None, 3, 4, None]
IMAGES_WITH_NULLS = [IMAGES[0], None, IMAGES[2], IMAGES[3], None]

# Two rows per row group gives three row groups for five rows, the last one short.
ROW_GROUP_SIZE = 2

# The rows tests/parquet_interop.rs writes with fsl, as listed in fsl_rows.json.
FSL_ROWS = {
    "label": ["Japanese_(katakana)", "Ελληνικά_(Greek)", "N_Ko", "中文 汉字"],
    "image": ["89504e470d0a1a0a00", "", None, "00ff"],
    "path": ["Japanese_(katakana)/0.png", None, "N_Ko/2.png", None],
    "drawer": [7, None, 9, 10],
}


def pyarrow_types_table():
    """Return a table with every string and binary encoding pyarrow writes."""
    return pa.table(
        {
            "label": pa.array(LABELS, pa.string()),
            "label_large": pa.array(LABELS, pa.large_string()),
            "label_dictionary": pa.array(LABELS, pa.string()).dictionary_encode(),
            "image": pa.array(IMAGES, pa.binary()),
            "image_large": pa.array(IMAGES, pa.large_binary()),
            "image_nullable": pa.array(IMAGES_WITH_NULLS, pa.binary()),
            "path": pa.array(PATHS, pa.string()),
            "drawer": pa.array(DRAWERS, pa.int64()),
        }
    )


def pandas_frame():
    """Return the frame a pandas user would write: categorical labels, bytes, nullable ints."""
    return pd.DataFrame(
        {
            "label": pd.Categorical(LABELS),
            "label_string": pd.Series(LABELS, dtype="str"),
            "image": pd.Series(IMAGES, dtype="object"),
            "path": pd.Series(PATHS, dtype="str"),
            "drawer": pd.array(DRAWERS, dtype="Int64"),
        }
    )


def json_value(value):
    if isinstance(value, bytes):
        return value.hex()
    return value


def expected_rows(path):
    """Return what pyarrow reads back from `path`: column types, row groups and values."""
    parquet_file = pq.ParquetFile(path)
    table = parquet_file.read()
    return {
        "num_row_groups": parquet_file.num_row_groups,
        "column_names": table.column_names,
        "types": {field.name: str(field.type) for field in table.schema},
        "columns": {
            name: [json_value(value) for value in table.column(name).to_pylist()]
            for name in table.column_names
        },
    }


def generate():
    FIXTURES.mkdir(parents=True, exist_ok=True)

    pq.write_table(pyarrow_types_table(), FIXTURES / "pyarrow_types.parquet", row_group_size=ROW_GROUP_SIZE)
    pandas_frame().to_parquet(FIXTURES / "pandas_types.parquet", index=False, row_group_size=ROW_GROUP_SIZE)

    # A table whose classes are in `class`, so it has no `label` column.
    pq.write_table(
        pa.table({"class": pa.array(LABELS[:2]), "image": pa.array(IMAGES[:2], pa.binary())}),
        FIXTURES / "missing_label.parquet",
    )
    # Class ids stored as integers where fsl expects class names.
    pq.write_table(
        pa.table({"label": pa.array([3, 5], pa.int64()), "image": pa.array(IMAGES[:2], pa.binary())}),
        FIXTURES / "integer_label.parquet",
    )
    # Image bytes stored as hex text, a mistake a CSV round trip makes.
    pq.write_table(
        pa.table({"label": pa.array(LABELS[:2]), "image": pa.array([IMAGES[0].hex(), IMAGES[1].hex()])}),
        FIXTURES / "string_image.parquet",
    )

    expected = {
        name: expected_rows(FIXTURES / name)
        for name in ["pyarrow_types.parquet", "pandas_types.parquet"]
    }
    (FIXTURES / "expected_rows.json").write_text(json.dumps(expected, indent=2, ensure_ascii=False) + "\n")
    (FIXTURES / "fsl_rows.json").write_text(json.dumps(FSL_ROWS, indent=2, ensure_ascii=False) + "\n")


def check():
    """Compare fsl_written.parquet, as pyarrow and pandas read it, with FSL_ROWS."""
    path = FIXTURES / "fsl_written.parquet"
    failures = []

    table = pq.read_table(path)
    for name, expected in FSL_ROWS.items():
        actual = [json_value(value) for value in table.column(name).to_pylist()]
        if actual != expected:
            failures.append(f"pyarrow column {name}: {actual} != {expected}")

    frame = pd.read_parquet(path)
    for name, expected in FSL_ROWS.items():
        actual = [None if pd.isna(value) else json_value(value) for value in frame[name].tolist()]
        if actual != expected:
            failures.append(f"pandas column {name}: {actual} != {expected}")

    for failure in failures:
        print(failure, file=sys.stderr)
    if failures:
        return 1

    print(f"{path}: pyarrow {pa.__version__} and pandas {pd.__version__} read the expected rows")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check fsl_written.parquet instead of writing fixtures")
    arguments = parser.parse_args()

    if arguments.check:
        return check()
    generate()
    return 0


if __name__ == "__main__":
    sys.exit(main())

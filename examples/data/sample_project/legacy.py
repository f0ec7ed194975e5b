"""Old import code, half ported: it does not parse."""


def import_rows(path):
    """Reads rows from an old-style export."""
    rows = []
    with open(path) as handle:
        for line in handle:
            if line.startswith("#"):
                continue
            rows.append(line.split(";"))
    return rows


def convert(row:
    return {"sku": row[0], "qty": int(row[1])}


def validate(rows):
    """Keeps the rows with a SKU and a quantity."""
    return [row for row in rows if len(row) >= 2 and row[0]]

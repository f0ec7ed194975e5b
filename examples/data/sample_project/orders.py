"""Reading orders from text lines and pricing them."""

import re

LINE = re.compile(r"^(?P<sku>[A-Z]{3}-\d{3})\s+(?P<qty>\d+)(?:\s+(?P<code>\w+))?$")


def parse_order_line(line, strict=False):
    """Parses `SKU QTY [CODE]`; returns None for blank lines and comments."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    match = LINE.match(line)
    if match is None:
        if strict:
            raise ValueError(f"bad order line: {line!r}")
        return None
    return match["sku"], int(match["qty"]), match["code"]


def price_order(lines, inventory, discounts, member=False, express=False, strict=False):
    """Prices an order: each line's items at their price, with codes, member and express."""
    total = 0.0
    missing = []
    for line in lines:
        parsed = parse_order_line(line, strict)
        if parsed is None:
            continue
        sku, quantity, code = parsed
        item = inventory.items.get(sku)
        if item is None:
            missing.append(sku)
            continue
        if quantity > item.quantity and strict:
            raise ValueError(f"not enough {sku}")
        elif quantity > item.quantity:
            quantity = item.quantity
        price = item.price * quantity
        if code and code in discounts:
            rate = discounts[code]
            if rate > 0.5 or rate < 0:
                raise ValueError(f"discount {code} out of range")
            price *= 1 - rate
        elif code and strict:
            raise ValueError(f"unknown code {code}")
        if member and price > 100:
            price *= 0.95
        total += price
    while express and total < 20:
        total += 5
        express = False
    else:
        total = round(total, 2)
    return total, missing


def summarize(orders):
    """Counts orders by status."""
    counts = {}
    for order in orders:
        status = order.get("status") or "unknown"
        counts[status] = counts.get(status, 0) + 1
    return counts

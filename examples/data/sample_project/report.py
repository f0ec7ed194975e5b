"""Text reports of the inventory."""


def format_row(sku, name, quantity, price, width, currency, show_value):
    value = quantity * price
    cells = [sku.ljust(8), name.ljust(width), str(quantity).rjust(5)]
    cells.append(f"{currency}{price:>8.2f}")
    if show_value:
        cells.append(f"{currency}{value:>10.2f}")
    return " ".join(cells)


def stock_report(inventory, width=20, currency="$", show_value=True):
    """The inventory as a table, one row per item, with a total."""
    lines = []
    header = ["SKU".ljust(8), "Name".ljust(width), "  Qty", "    Price"]
    if show_value:
        header.append("     Value")
    lines.append(" ".join(header))
    lines.append("-" * len(lines[0]))
    for item in sorted(inventory.items.values(), key=lambda i: i.sku):
        lines.append(
            format_row(
                item.sku,
                item.name,
                item.quantity,
                item.price,
                width,
                currency,
                show_value,
            )
        )
    if show_value:
        lines.append(f"Total: {currency}{inventory.total_value():.2f}")
    return "\n".join(lines)


def low_stock_report(inventory, threshold=5):
    """The items running low, or a line saying there are none."""
    low = inventory.low_stock(threshold)
    if not low:
        return "Nothing is running low."
    return "\n".join(f"{item.sku}: {item.quantity} left" for item in low)


async def publish(report, sink, retries=2):
    """Sends a report to an async sink, retrying on connection errors."""
    for attempt in range(retries + 1):
        try:
            await sink.send(report)
            return True
        except ConnectionError:
            if attempt == retries:
                return False
    return False

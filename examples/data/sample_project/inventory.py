"""A small inventory of items, with quantities and prices."""

from dataclasses import dataclass, field


@dataclass
class Item:
    """One kind of item in stock."""

    sku: str
    name: str
    price: float
    quantity: int = 0

    def value(self):
        """The value of the stock of this item."""
        return self.price * self.quantity


@dataclass
class Inventory:
    """Items by SKU."""

    items: dict = field(default_factory=dict)

    def add(self, item):
        """Adds an item, or more of one already in stock."""
        if item.sku in self.items:
            self.items[item.sku].quantity += item.quantity
        else:
            self.items[item.sku] = item

    def remove(self, sku, quantity):
        """Takes `quantity` of an item out of stock."""
        item = self.items.get(sku)
        if item is None:
            raise KeyError(sku)
        if quantity > item.quantity:
            raise ValueError(f"only {item.quantity} of {sku} in stock")
        item.quantity -= quantity
        if item.quantity == 0:
            del self.items[sku]

    def total_value(self):
        """The value of everything in stock."""
        return sum(item.value() for item in self.items.values())

    def low_stock(self, threshold=5):
        """The items with fewer than `threshold` left, fewest first."""
        low = [item for item in self.items.values() if item.quantity < threshold]
        return sorted(low, key=lambda item: item.quantity)


def restock_plan(inventory, target):
    """How many of each low item to order to reach `target`."""
    return {
        item.sku: target - item.quantity
        for item in inventory.low_stock(target)
        if item.quantity < target
    }

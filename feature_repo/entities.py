"""Entities: the keys features are joined on, offline and online."""

from feast import Entity, ValueType

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.STRING,
    description="A customer of the simulated shop, e.g. C000123.",
    owner="team:ml-platform",
    tags={"pii": "false"},
)

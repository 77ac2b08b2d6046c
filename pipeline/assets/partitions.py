"""Every tenant (business) is a dynamic partition; the change sensor keeps the set in step."""

import dagster as dg

business_partitions = dg.DynamicPartitionsDefinition(name="businesses")


def business_id_of(partition_key: str) -> int:
    try:
        return int(partition_key)
    except ValueError:
        raise ValueError(f"Partition key {partition_key!r} is not a business id (expected digits).") from None

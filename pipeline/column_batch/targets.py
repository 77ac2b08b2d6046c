"""The allowlist of columns an LLM may write. User-supplied names are only ever looked up here; SQL
is built from these constants, never from the user's strings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    table: str
    column: str
    key_column: str
    readable_columns: tuple[str, ...]  # usable in prompt templates and row filters

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "menu_items",
            "description",
            "id",
            ("id", "business_id", "name", "category", "description", "price", "dietary_tags"),
        ),
        Target("faqs", "answer", "id", ("id", "business_id", "question", "answer")),
        Target("glossary_terms", "definition", "id", ("id", "term", "definition")),
    )
}


class TargetNotAllowedError(ValueError):
    pass


def resolve_target(table: str, column: str) -> Target:
    target = TARGETS.get(f"{table}.{column}")
    if target is None:
        allowed = ", ".join(sorted(TARGETS))
        raise TargetNotAllowedError(
            f"{table}.{column} is not an allowed column-batch target. Allowed: {allowed}."
        )
    return target

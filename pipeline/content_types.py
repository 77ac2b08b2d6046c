"""The content types the pipeline embeds. Adding one means a table, an embedding_text() overload and
capture triggers in a migration, plus one entry here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContentType:
    name: str  # value stored in content_embeddings.content_type and the change queue
    table: str  # the app's source table, also the Dagster source asset's name
    title_column: str  # shown in search results

    @property
    def embeddings_asset(self) -> str:
        return f"{self.name}_embeddings"


MENU_ITEM = ContentType("menu_item", "menu_items", "name")
POLICY = ContentType("policy", "policies", "title")
FAQ = ContentType("faq", "faqs", "question")

CONTENT_TYPES: tuple[ContentType, ...] = (MENU_ITEM, POLICY, FAQ)
BY_NAME = {ct.name: ct for ct in CONTENT_TYPES}


def content_type(name: str) -> ContentType:
    try:
        return BY_NAME[name]
    except KeyError:
        allowed = ", ".join(BY_NAME)
        raise ValueError(f"Unknown content type {name!r}; expected one of: {allowed}.") from None

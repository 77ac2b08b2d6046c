-- How often each row was embedded per day, for the "re-embedded many times a day" recommendation.
CREATE TABLE IF NOT EXISTS row_embed_counts (
    day           date NOT NULL DEFAULT current_date,
    business_id   bigint NOT NULL,
    content_type  text NOT NULL,
    content_id    bigint NOT NULL,
    embeds        integer NOT NULL DEFAULT 0,
    tokens        bigint NOT NULL DEFAULT 0,
    cost_usd      numeric(14, 8) NOT NULL DEFAULT 0,
    PRIMARY KEY (day, content_type, content_id)
);

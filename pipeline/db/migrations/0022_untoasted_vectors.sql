-- A row of a 1,536-dimension vector is ~6.3 KB, over the default 2 KB threshold at which PostgreSQL starts
-- toasting a row: with the vector's MAIN storage (0014) every write first tried to compress it (pglz on
-- random-looking floats, which never shrinks them) before storing it inline anyway. A profile of a 100k
-- bulk load had pglz_compress as the backend's largest single cost. With the threshold at a page's
-- capacity, a row that fits a page is stored as it is; a wider one (3,072 dimensions, long chunk text) is
-- still compressed and moved out of line as before, so no write fails because of it.
ALTER TABLE content_embeddings SET (toast_tuple_target = 8160);
ALTER TABLE content_embeddings_shadow SET (toast_tuple_target = 8160);

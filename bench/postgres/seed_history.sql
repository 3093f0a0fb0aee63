-- 100k (psql variable :n) messages in the history session, oldest first, one statement.
INSERT INTO messages (session_id, role, content, metadata, "timestamp")
SELECT md5('history')::uuid, 'user', t,
       jsonb_build_object('parts', jsonb_build_array(jsonb_build_object('type', 'text', 'text', t))),
       now() - make_interval(secs => (:n - i) / 1000.0)
FROM (SELECT i, 'seed message ' || i || ', a short chat line about the weather' AS t
      FROM generate_series(1, :n) AS i) AS x;
ANALYZE messages;

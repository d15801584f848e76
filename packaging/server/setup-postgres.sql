-- Run once as a Postgres superuser (psql -f setup-postgres.sql), after changing the passwords.
-- Two roles: the owner migrates the schema; the server logs in as caixa_app, which owns nothing,
-- so the row-level security policies always apply to it.
CREATE ROLE caixa_owner LOGIN PASSWORD 'CHANGE-ME-TOO';
CREATE ROLE caixa_app LOGIN PASSWORD 'CHANGE-ME';
CREATE DATABASE caixa OWNER caixa_owner;
\connect caixa
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT ALL ON SCHEMA public TO caixa_owner;

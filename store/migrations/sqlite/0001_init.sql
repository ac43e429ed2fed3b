-- nencds store, version 1: issued cards, feedback, and the store's own metadata.
-- No patient data: the patient is an HMAC-SHA256 pseudonym; cards are codes and digests.
CREATE TABLE nencds_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE issued_cards (
    issuer      TEXT    NOT NULL,
    service_id  TEXT    NOT NULL,
    card_uuid   TEXT    NOT NULL,
    hook        TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    indicator   TEXT    NOT NULL,
    patient     TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    issued_us   INTEGER NOT NULL,
    suggestions TEXT    NOT NULL,
    PRIMARY KEY (issuer, service_id, card_uuid)
);
CREATE INDEX issued_cards_patient ON issued_cards (patient);
CREATE INDEX issued_cards_issued ON issued_cards (issued_us);

CREATE TABLE feedback (
    issuer        TEXT    NOT NULL,
    service_id    TEXT    NOT NULL,
    card_uuid     TEXT    NOT NULL,
    outcome       TEXT    NOT NULL,
    outcome_at    TEXT    NOT NULL,
    accepted      TEXT    NOT NULL,
    reason_system TEXT    NOT NULL,
    reason_code   TEXT    NOT NULL,
    user_comment  TEXT    NOT NULL,
    received_us   INTEGER NOT NULL,
    PRIMARY KEY (issuer, service_id, card_uuid, outcome, outcome_at)
);
CREATE INDEX feedback_received ON feedback (received_us);

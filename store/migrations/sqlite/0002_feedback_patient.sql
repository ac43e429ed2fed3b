-- nencds store, version 2: the patient pseudonym on each feedback item (from its card; ''
-- while the card is unknown, filled in when it arrives), so that the suppression lookup of
-- a chart open reads only that patient's feedback, however many cards were issued.
ALTER TABLE feedback ADD COLUMN patient TEXT NOT NULL DEFAULT '';
UPDATE feedback SET patient = COALESCE((SELECT c.patient FROM issued_cards c
    WHERE c.issuer = feedback.issuer AND c.service_id = feedback.service_id AND c.card_uuid = feedback.card_uuid), '');
CREATE INDEX feedback_patient ON feedback (patient, received_us);

-- 005_notification_delivery.sql: the delivery index of the outbox.
--
-- Issue 5, delivery: hsi-alerter takes, per receiver, the oldest
-- undelivered notification (services/alerter/deliver.c). Delivered rows
-- are the notification log and pile up; the pending ones are few, so a
-- partial index keeps the delivery query independent of the history.
CREATE INDEX notification_outbox_pending
	ON notification_outbox (receiver, id) WHERE delivered_at IS NULL;

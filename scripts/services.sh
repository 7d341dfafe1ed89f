#!/usr/bin/env bash
# Start PostgreSQL and RabbitMQ on 127.0.0.1 if they are down (the commands of the machine notes).
# Quiet when both are up. Never fails the caller: the tests themselves say what is missing.
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 5432; then
  echo "services: starting PostgreSQL" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | tail -n 1)" main start || true
  fi
fi
if ! port_open 5672; then
  echo "services: starting RabbitMQ" >&2
  if command -v rabbitmq-server >/dev/null 2>&1; then
    rabbitmq-server -detached || true
  fi
fi
for _ in $(seq 1 60); do
  port_open 5432 && port_open 5672 && break
  sleep 1
done
# RabbitMQ opens its port before it accepts connections; wait for the app to be running.
if command -v rabbitmqctl >/dev/null 2>&1; then
  timeout 60 rabbitmqctl await_startup >/dev/null 2>&1 || true
fi
exit 0

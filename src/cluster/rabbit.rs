//! RabbitMQ queues of the cluster backend.

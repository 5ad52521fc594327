//! The cluster backend (`[storage] backend = "cluster"`): what a deployment uses once it has
//! outgrown one machine. RabbitMQ carries the queues; see DESIGN.md, "Two deployments".

pub mod envelope;
pub mod rabbit;

//! Topic creation: the producer's tweet topic and the dataflow's output topic are created by the
//! program, with the settings they need, rather than left to the broker's auto-creation.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use rdkafka::consumer::BaseConsumer;

use crate::client::{ClientError, Diagnostics, ReportingContext, create, metadata};

/// A topic to create when it is missing.
#[derive(Clone, Debug)]
pub struct TopicSpec<'a> {
    pub name: &'a str,
    pub partitions: i32,
    pub replication: i32,
    /// Topic-level configuration, e.g. `retention.ms`.
    pub config: &'a [(&'a str, &'a str)],
}

/// Creates the topic unless it exists; returns whether it was created. An existing topic is left
/// as it is (its partitions and settings are the operator's).
pub fn ensure_topic(
    config: &ClientConfig,
    brokers: &str,
    spec: &TopicSpec<'_>,
    timeout: Duration,
) -> Result<bool, ClientError> {
    // A broker that is down or refuses this client is explained here; the admin client's own
    // errors only say that the request timed out.
    let probe: BaseConsumer<ReportingContext> =
        create(config, ReportingContext::new(Diagnostics::default()))?;
    metadata(&probe, brokers, None, timeout)?;
    let diagnostics = Diagnostics::default();
    let admin: AdminClient<ReportingContext> =
        create(config, ReportingContext::new(diagnostics.clone()))?;
    let mut topic = NewTopic::new(
        spec.name,
        spec.partitions,
        TopicReplication::Fixed(spec.replication),
    );
    for (key, value) in spec.config {
        topic = topic.set(key, value);
    }
    let options = AdminOptions::new()
        .request_timeout(Some(timeout))
        .operation_timeout(Some(timeout));
    let failed = |error: KafkaError| {
        let detail = match (&error, diagnostics.last()) {
            (KafkaError::AdminOp(RDKafkaErrorCode::OperationTimedOut), Some(heard)) => heard,
            (_, _) => error.to_string(),
        };
        ClientError::Topic {
            topic: spec.name.to_owned(),
            brokers: brokers.to_owned(),
            detail,
        }
    };
    let results =
        futures_executor::block_on(admin.create_topics([&topic], &options)).map_err(failed)?;
    match results.into_iter().next() {
        Some(Ok(_)) => {
            tracing::info!(
                topic = spec.name,
                partitions = spec.partitions,
                replication = spec.replication,
                "created topic"
            );
            Ok(true)
        }
        Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => {
            tracing::debug!(topic = spec.name, "topic exists");
            Ok(false)
        }
        Some(Err((_, code))) => Err(failed(KafkaError::AdminOp(code))),
        None => Ok(false),
    }
}

//! Offsets committed to a consumer group the job never joins: the dataflow's partitions stay
//! manually assigned (no rebalancing), and the group exists so that `kafka-consumer-groups.sh`,
//! Burrow and lag dashboards see how far the job is, and `--start committed` can start there.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::client::{ClientError, Diagnostics, ReportingContext, client_config, create};
use crate::properties::Properties;

pub struct GroupOffsets {
    consumer: BaseConsumer<ReportingContext>,
    group: String,
    topic: String,
}

impl GroupOffsets {
    pub fn new(
        brokers: &str,
        properties: &Properties,
        group: &str,
        topic: &str,
    ) -> Result<GroupOffsets, ClientError> {
        let defaults = [
            ("group.id", group.to_owned()),
            ("enable.auto.commit", "false".to_owned()),
        ];
        Ok(GroupOffsets {
            consumer: create(
                &client_config(brokers, &defaults, properties),
                ReportingContext::new(Diagnostics::default()),
            )?,
            group: group.to_owned(),
            topic: topic.to_owned(),
        })
    }

    /// Commits, for each `(partition, next offset to read)`, that offset.
    pub fn commit(&self, offsets: &[(i32, i64)]) -> Result<(), ClientError> {
        let failed = |source| ClientError::Request {
            what: format!(
                "committing offsets of {} to group {}",
                self.topic, self.group
            ),
            source,
        };
        let mut list = TopicPartitionList::new();
        for &(partition, next) in offsets {
            list.add_partition_offset(&self.topic, partition, Offset::Offset(next))
                .map_err(failed)?;
        }
        self.consumer
            // Async: an unreachable coordinator must not hold the dataflow back; lag tools are
            // advisory, and the next checkpoint commits again.
            .commit(&list, CommitMode::Async)
            .map_err(failed)?;
        // Errors of the commit's own requests reach the context only when polled.
        let _ = self.consumer.poll(Duration::ZERO);
        Ok(())
    }
}

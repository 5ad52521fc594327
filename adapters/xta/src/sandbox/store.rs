//! The sandbox's state, in memory: messages in delivery order (each in its reader's mailbox
//! until closed), MessageIDs issued by `createMessageId`, and the status-list iterators
//! (`MsgBoxRequestID`) with the entries still to be listed. Pure bookkeeping — permissions and
//! faults are decided in `ports`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::container::ContentContainer;
use crate::metadata::MessageMetaData;
use crate::msgbox::ListForm;

/// A message in the sandbox.
pub(crate) struct StoredMessage {
    /// Metadata as delivered (delivery time and size set by the sandbox).
    pub metadata: MessageMetaData,
    /// The content.
    pub container: ContentContainer,
    /// The sending account (`None`: delivered through [`super::SandboxControl::deliver`]).
    pub sender_account: Option<String>,
    /// When it entered the mailbox.
    pub delivered_at: OffsetDateTime,
    /// How often it was fetched.
    pub fetch_count: u32,
    /// First fetch.
    pub first_fetch: Option<OffsetDateTime>,
    /// When the reader closed it (then it is no longer listed or fetchable).
    pub closed_at: Option<OffsetDateTime>,
}

/// A mailbox entry as [`super::SandboxControl::mailbox`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxEntry {
    /// XTA MessageID.
    pub message_id: String,
    /// Closed (fetched for good) by the reader.
    pub closed: bool,
    /// How often `getMessage` returned it.
    pub fetch_count: u32,
    /// Content bytes.
    pub size: u64,
}

/// A status list being paged through.
pub(crate) struct Listing {
    /// The account that listed.
    pub account: usize,
    /// Entries not yet returned.
    pub remaining: VecDeque<String>,
    /// Page size.
    pub page_size: usize,
    /// Form of the entries.
    pub form: ListForm,
    /// Last use.
    pub touched: Instant,
}

#[derive(Default)]
pub(crate) struct Store {
    pub messages: HashMap<String, StoredMessage>,
    /// MessageIDs in delivery order.
    pub order: Vec<String>,
    /// MessageIDs from `createMessageId`, with the account they were issued to.
    pub issued: HashMap<String, usize>,
    pub listings: HashMap<String, Listing>,
}

impl Store {
    pub fn insert(&mut self, message: StoredMessage) {
        let id = message.metadata.message_id.clone();
        self.order.push(id.clone());
        self.messages.insert(id, message);
    }

    /// Open (not closed) messages whose reader is one of `readers`, oldest first.
    pub fn open_for<'s>(
        &'s self,
        readers: &'s [String],
    ) -> impl Iterator<Item = &'s StoredMessage> {
        self.order
            .iter()
            .filter_map(|id| self.messages.get(id))
            .filter(move |m| m.closed_at.is_none() && readers.contains(&m.metadata.reader.value))
    }

    pub fn mailbox(&self, identifier: &str) -> Vec<MailboxEntry> {
        self.order
            .iter()
            .filter_map(|id| self.messages.get(id))
            .filter(|m| m.metadata.reader.value == identifier)
            .map(|m| MailboxEntry {
                message_id: m.metadata.message_id.clone(),
                closed: m.closed_at.is_some(),
                fetch_count: m.fetch_count,
                size: m.container.content_bytes(),
            })
            .collect()
    }

    /// Drops listings unused for `lifetime`.
    pub fn expire_listings(&mut self, lifetime: Duration) {
        self.listings.retain(|_, l| l.touched.elapsed() < lifetime);
    }
}

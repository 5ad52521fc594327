//! A sandbox Zustelldienst in the test process, with the published test keys, and the broker
//! configuration for its destination.
#![allow(dead_code)]

use amtsbote::sandbox::fit_connect::{SandboxInfo, Setup, sender_client};
use amtsbote_fit_connect::client::SubmissionClient;
use amtsbote_fit_connect::events::{Event, Problem, verify_set_with};
use amtsbote_fit_connect::jose::PublicKey;
use amtsbote_fit_connect::sandbox::RunningSandbox;
use amtsbote_fit_connect::sender::{
    Application, Fault, OutgoingAttachment, SendOptions, SentSubmission, send,
};
use amtsbote_fit_connect::wire::ServiceType;
use std::path::Path;

pub struct FitConnect {
    pub dir: tempfile::TempDir,
    pub setup: Setup,
    pub running: RunningSandbox,
    pub sender: SubmissionClient,
}

const KEYS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/fit-connect/demo-keys"
);

impl FitConnect {
    /// A sandbox whose callbacks go to `callback_url`.
    pub async fn start(callback_url: Option<String>) -> FitConnect {
        let dir = tempfile::tempdir().unwrap();
        for (from, to) in [
            (
                "destination-encryption.jwk.json",
                "encryption.private.jwk.json",
            ),
            ("destination-signing.jwk.json", "signing.private.jwk.json"),
            (
                "zustelldienst-signing.jwk.json",
                "zustelldienst.private.jwk.json",
            ),
        ] {
            std::fs::copy(Path::new(KEYS).join(from), dir.path().join(to)).unwrap();
        }
        let setup = Setup::load_or_create(dir.path()).unwrap();
        let running = setup
            .start("127.0.0.1:0".parse().unwrap(), callback_url)
            .await
            .unwrap();
        let info: SandboxInfo =
            serde_json::from_slice(&std::fs::read(dir.path().join("sandbox.json")).unwrap())
                .unwrap();
        let sender = sender_client(&info).unwrap();
        FitConnect {
            dir,
            setup,
            running,
            sender,
        }
    }

    /// The tenant source for the broker configuration, polling every `poll`.
    pub fn source(&self, tenant: &str, source: &str, poll: &str) -> String {
        self.setup
            .source_toml(tenant, source, &self.running)
            .replace(
                "poll_interval = \"10s\"",
                &format!("poll_interval = \"{poll}\""),
            )
    }

    pub async fn submit(
        &self,
        data: Vec<u8>,
        mime: &str,
        attachments: Vec<(&str, Vec<u8>)>,
        fault: Option<Fault>,
    ) -> SentSubmission {
        self.submit_with(
            data,
            mime,
            attachments,
            SendOptions {
                fault,
                ..Default::default()
            },
        )
        .await
    }

    pub async fn submit_with(
        &self,
        data: Vec<u8>,
        mime: &str,
        attachments: Vec<(&str, Vec<u8>)>,
        options: SendOptions,
    ) -> SentSubmission {
        let app = Application {
            destination_id: self.setup.destination_id.clone(),
            service_type: ServiceType {
                name: Some("Baugenehmigung".into()),
                identifier: "urn:de:fim:leika:leistung:99010003001000".into(),
            },
            data,
            data_mime_type: mime.into(),
            data_schema_uri: "http://www.xleitstelle.de/xbau/2/6".into(),
            attachments: attachments
                .into_iter()
                .map(|(name, bytes)| {
                    OutgoingAttachment::new(bytes, "application/pdf", Some(name.to_string()))
                })
                .collect(),
        };
        send(&self.sender, &app, &options).await.unwrap()
    }

    /// The state of a submission at the Zustelldienst, e.g. `accepted`.
    pub fn state(&self, submission_id: &str) -> String {
        self.running
            .control
            .submission_state(submission_id)
            .map(|s| format!("{s:?}").to_lowercase())
            .unwrap_or_default()
    }

    /// The events the broker posted for a case (verified with the destination's signing key).
    pub fn answers(&self, case_id: &str) -> Vec<Event> {
        let key = PublicKey::from_jwk(&self.setup.signing.to_public()).unwrap();
        self.running
            .control
            .case_events(case_id)
            .iter()
            .filter_map(|t| verify_set_with(t, std::slice::from_ref(&key)).ok())
            .map(|set| set.event)
            .collect()
    }

    pub fn problems(&self, case_id: &str) -> Vec<Problem> {
        self.answers(case_id)
            .into_iter()
            .flat_map(|e| match e {
                Event::Reject { problems } => problems,
                _ => Vec::new(),
            })
            .collect()
    }
}

//! placeholder
use std::sync::Arc;

use super::stats::CallStats;
use crate::org::OrgListing;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OrgError(String);

pub fn organizations_client(
    config: &aws_config::SdkConfig,
    _stats: Arc<CallStats>,
) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::new(config)
}

pub async fn list_organization(
    _client: &aws_sdk_organizations::Client,
    _ous: &[String],
) -> Result<OrgListing, OrgError> {
    Err(OrgError("not yet".into()))
}

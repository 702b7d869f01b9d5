//! `--seed-existing`: before planning against the local cloud, create in it
//! every data source the spec reads (`existing: true`) that is missing, with
//! its provider's plausible settings, so that any spec can be tried offline.
//! A loop over the providers in dependency order (a pool's workspace first);
//! what exists is left as it is. Never used against Azure: the command refuses
//! the flag for any other cloud.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::addr::{Address, ArmId};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::graph::Graph;
use crate::provider::{self, ApplyContext, Known, Lookup};
use crate::spec::LoadedSpec;

/// What the seeding knows so far: the data sources read or made.
struct Seeded<'a> {
    spec: &'a LoadedSpec,
    bodies: HashMap<Address, Value>,
}

impl Lookup for Seeded<'_> {
    fn id(&self, address: &Address) -> Option<ArmId> {
        let r = self.spec.resources.get(address)?;
        provider::of(address.kind).id(r, self.spec)
    }

    fn body(&self, address: &Address) -> Option<&Value> {
        self.bodies.get(address)
    }

    fn output(&self, address: &Address, key: &str) -> Known {
        self.bodies
            .get(address)
            .and_then(|b| provider::of(address.kind).outputs(b).get(key).cloned())
            .map_or(Known::Absent, Known::Now)
    }
}

/// Creates the missing data sources; `on_seed` hears of each one made.
/// Returns how many were made.
pub async fn seed_data_sources(
    client: Arc<Client>,
    spec: &LoadedSpec,
    graph: &Graph,
    on_seed: &(dyn Fn(&Address, &ArmId) + Sync),
) -> Result<usize, CloudError> {
    let ctx = ApplyContext::new(
        client.clone(),
        Duration::from_secs(60),
        Duration::from_secs(3),
        Box::new(|_: &Address, _: String| {}),
    );
    let mut seeded = Seeded {
        spec,
        bodies: HashMap::new(),
    };
    let mut made = 0;
    for address in graph.order() {
        let Some(r) = spec.resources.get(&address).filter(|r| r.existing) else {
            continue;
        };
        let p = provider::of(address.kind);
        let Some(id) = p.id(r, spec) else {
            continue;
        };
        if let Some(body) = p.read(&client, &id, None).await? {
            seeded.bodies.insert(address, body);
            continue;
        }
        let request = p.seed(r, spec, &seeded);
        p.write(&ctx, &address, &id, &request).await?;
        if let Some(body) = p.read(&client, &id, None).await? {
            seeded.bodies.insert(address.clone(), body);
        }
        on_seed(&address, &id);
        made += 1;
    }
    Ok(made)
}

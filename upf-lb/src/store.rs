//! The session store of hitless restart: a redb file holding what the UP function must not
//! forget across a restart or a crash: its Recovery Time Stamp and next SEID, the PFCP
//! associations, and every session (rules as PFCP IEs, allocations, the datapath slots it
//! occupies in the pinned maps, URR measurement state). The daemon commits the changes of a
//! batch of requests in one durable transaction before it sends their responses (group
//! commit): an answered request is never lost, and one fsync serves many sessions.

use crate::southbound::{InstalledParts, Key};
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::Path,
};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SESSIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("sessions");
const ASSOCIATIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("associations");

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be opened or written.
    #[error("session store {path}: {why}")]
    Db {
        /// Its path.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// A record could not be read back.
    #[error("session store record: {0}")]
    Record(String),
}

/// What the UP function itself keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Recovery Time Stamp (NTP seconds of the first start).
    pub recovery: u32,
    /// The next UP SEID.
    pub next_seid: u64,
}

/// An association.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssociationRecord {
    /// Node ID IE value.
    pub node_id: Vec<u8>,
    /// Where the CP function speaks from.
    pub addr: SocketAddr,
    /// Its Recovery Time Stamp.
    pub recovery: u32,
}

/// A URR's measurement state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrrRecord {
    /// UR-SEQN of the next report.
    pub seqn: u32,
    /// Start of the measurement, NTP seconds.
    pub start: u32,
    /// Counters at its start: UL packets, UL bytes, DL packets, DL bytes.
    pub base: [u64; 4],
    /// Out of quota.
    pub exhausted: bool,
}

/// A session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// CP F-SEID.
    pub cp_seid: u64,
    /// Its IPv4 address.
    pub cp_v4: Option<Ipv4Addr>,
    /// Its IPv6 address.
    pub cp_v6: Option<Ipv6Addr>,
    /// Node ID IE value of its association.
    pub node: Vec<u8>,
    /// Its rules, PFCP IEs ([`crate::state::Rules::encode`]).
    pub rules: Vec<u8>,
    /// Session index in the datapath.
    pub index: u32,
    /// TEIDs it holds from our range.
    pub teids: Vec<u32>,
    /// Chosen F-TEIDs by CHOOSE ID (F-TEID IE values).
    pub chosen: Vec<(u8, Vec<u8>)>,
    /// UE addresses it holds from our pools.
    pub ue: Vec<IpAddr>,
    /// Datapath keys it owns.
    pub keys: Vec<Key>,
    /// Slots it occupies.
    pub installed: InstalledParts,
    /// URR measurement state.
    pub urrs: Vec<(u32, UrrRecord)>,
}

/// Everything in the store.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// None for a new store.
    pub meta: Option<Meta>,
    /// Associations.
    pub associations: Vec<AssociationRecord>,
    /// Sessions by UP SEID.
    pub sessions: Vec<(u64, SessionRecord)>,
}

/// A batch of changes.
#[derive(Debug, Default)]
pub struct Changes {
    /// New meta, if it changed.
    pub meta: Option<Meta>,
    /// The whole association table, if it changed.
    pub associations: Option<Vec<AssociationRecord>>,
    /// Sessions written (Some) or deleted (None).
    pub sessions: Vec<(u64, Option<SessionRecord>)>,
}

impl Changes {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.meta.is_none() && self.associations.is_none() && self.sessions.is_empty()
    }

    /// Adds the later changes `o` (later values win).
    pub fn merge(&mut self, o: Changes) {
        if o.meta.is_some() {
            self.meta = o.meta;
        }
        if o.associations.is_some() {
            self.associations = o.associations;
        }
        self.sessions.extend(o.sessions);
    }
}

/// The store.
pub struct Store {
    db: Database,
    path: String,
}

impl Store {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let p = path.display().to_string();
        let err = |why: String| StoreError::Db {
            path: p.clone(),
            why,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let db = Database::create(path).map_err(|e| err(e.to_string()))?;
        Ok(Store { db, path: p })
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            why: e.to_string(),
        }
    }

    /// Everything in it.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let rx = self.db.begin_read().map_err(|e| self.err(e))?;
        let mut snap = Snapshot::default();
        let rec = |e: postcard::Error| StoreError::Record(e.to_string());
        match rx.open_table(META) {
            Ok(t) => {
                if let Some(v) = t.get("meta").map_err(|e| self.err(e))? {
                    snap.meta = Some(postcard::from_bytes(v.value()).map_err(rec)?);
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(snap),
            Err(e) => return Err(self.err(e)),
        }
        if let Ok(t) = rx.open_table(ASSOCIATIONS) {
            for r in t.iter().map_err(|e| self.err(e))? {
                let (_, v) = r.map_err(|e| self.err(e))?;
                snap.associations
                    .push(postcard::from_bytes(v.value()).map_err(rec)?);
            }
        }
        if let Ok(t) = rx.open_table(SESSIONS) {
            for r in t.iter().map_err(|e| self.err(e))? {
                let (k, v) = r.map_err(|e| self.err(e))?;
                snap.sessions
                    .push((k.value(), postcard::from_bytes(v.value()).map_err(rec)?));
            }
        }
        Ok(snap)
    }

    /// Writes `c` in one durable transaction.
    pub fn commit(&self, c: &Changes) -> Result<(), StoreError> {
        if c.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        let enc = |v: &dyn erased::Ser| v.bytes();
        {
            let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
            if let Some(m) = &c.meta {
                meta.insert("meta", enc(m).as_slice())
                    .map_err(|e| self.err(e))?;
            }
            let mut assocs = tx.open_table(ASSOCIATIONS).map_err(|e| self.err(e))?;
            if let Some(all) = &c.associations {
                assocs.retain(|_, _| false).map_err(|e| self.err(e))?;
                for a in all {
                    assocs
                        .insert(a.node_id.as_slice(), enc(a).as_slice())
                        .map_err(|e| self.err(e))?;
                }
            }
            let mut sessions = tx.open_table(SESSIONS).map_err(|e| self.err(e))?;
            for (seid, s) in &c.sessions {
                match s {
                    Some(s) => {
                        sessions
                            .insert(*seid, enc(s).as_slice())
                            .map_err(|e| self.err(e))?;
                    }
                    None => {
                        sessions.remove(*seid).map_err(|e| self.err(e))?;
                    }
                }
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }
}

/// postcard behind one object-safe call (the records are small and always encodable).
mod erased {
    pub trait Ser {
        fn bytes(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn bytes(&self) -> Vec<u8> {
            postcard::to_stdvec(self).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_committed_is_loaded_back() {
        let dir = std::env::temp_dir().join(format!("upf-lb-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir.join("s.redb")).unwrap();
        assert!(s.load().unwrap().meta.is_none());
        let rec = SessionRecord {
            cp_seid: 7,
            cp_v4: Some(Ipv4Addr::new(192, 0, 2, 1)),
            cp_v6: None,
            node: vec![0, 192, 0, 2, 1],
            rules: vec![1, 2, 3],
            index: 4,
            teids: vec![0x8000_0000],
            chosen: vec![(1, vec![1, 0x80, 0, 0, 0, 192, 0, 2, 2])],
            ue: vec![IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1))],
            keys: vec![Key::UlTeid(0x8000_0000)],
            installed: InstalledParts::default(),
            urrs: vec![(
                1,
                UrrRecord {
                    seqn: 2,
                    start: 9,
                    base: [1, 2, 3, 4],
                    exhausted: false,
                },
            )],
        };
        s.commit(&Changes {
            meta: Some(Meta {
                recovery: 11,
                next_seid: 2,
            }),
            associations: Some(vec![AssociationRecord {
                node_id: vec![0, 192, 0, 2, 1],
                addr: "192.0.2.1:8805".parse().unwrap(),
                recovery: 5,
            }]),
            sessions: vec![(1, Some(rec.clone())), (2, Some(rec.clone()))],
        })
        .unwrap();
        s.commit(&Changes {
            sessions: vec![(2, None)],
            ..Changes::default()
        })
        .unwrap();
        drop(s);
        let snap = Store::open(&dir.join("s.redb")).unwrap().load().unwrap();
        assert_eq!(snap.meta.unwrap().recovery, 11);
        assert_eq!(snap.associations.len(), 1);
        assert_eq!(snap.sessions, vec![(1, rec)]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

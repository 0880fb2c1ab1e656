//! Hitless restart, the endpoint's side: which sessions and associations changed since the
//! last commit, their records for the store ([`crate::store`]), and taking everything back
//! after a restart: the sessions as they were (same SEIDs, TEIDs, UE addresses, slots in the
//! pinned maps, URR measurements), the associations, the next SEID. When the maps are new
//! (the pins were lost, say after a reboot) the sessions are installed afresh from their rules.

use super::{Association, N4, session::Session, usage::UrrState};
use crate::vec_map::VecMap;
use crate::{
    southbound::{Installed, Key},
    state::Rules,
    store::{AssociationRecord, Changes, Meta, SessionRecord, Snapshot, Store, UrrRecord},
};
use bpf_abi::gtp::UrrCounters;
use pfcp::{
    ie::addr::{FSeid, FTeid, NodeId},
    wire::{Ie, Writer},
};
use std::{
    collections::HashSet,
    net::IpAddr,
    time::{Duration, Instant},
};

fn ie_bytes<T: Ie>(x: &T) -> Vec<u8> {
    let mut v = vec![0u8; x.value_len()];
    x.encode_value(&mut Writer::new(&mut v));
    v
}

impl N4 {
    /// Keeps what changes in `store` from now on (the daemon calls [`N4::commit`] before it
    /// sends the answers of a batch).
    pub fn enable_persistence(&mut self, store: Store) {
        self.store = Some(store);
        self.persist = true;
        self.meta_dirty = true;
        self.assoc_dirty = true;
    }

    /// Marks a session changed.
    pub(super) fn touch(&mut self, seid: u64) {
        if self.persist {
            self.dirty.insert(seid);
        }
    }

    /// Marks a session gone.
    pub(super) fn forget(&mut self, seid: u64) {
        if self.persist {
            self.dirty.remove(&seid);
            self.deleted.insert(seid);
        }
    }

    fn record(&self, s: &Session) -> SessionRecord {
        SessionRecord {
            cp_seid: s.cp.seid,
            cp_v4: s.cp.ipv4,
            cp_v6: s.cp.ipv6,
            node: ie_bytes(&s.node),
            rules: s.rules.encode(),
            index: s.index,
            teids: s.teids.iter().copied().collect(),
            chosen: s.chosen.iter().map(|(c, f)| (*c, ie_bytes(f))).collect(),
            ue: s.ue.iter().copied().collect(),
            keys: s.keys.clone(),
            installed: s
                .installed
                .as_ref()
                .map(Installed::parts)
                .unwrap_or_default(),
            urrs: s
                .urrs
                .iter()
                .map(|(id, u)| {
                    (
                        *id,
                        UrrRecord {
                            seqn: u.seqn,
                            start: u.start,
                            base: [
                                u.base.ul_packets,
                                u.base.ul_bytes,
                                u.base.dl_packets,
                                u.base.dl_bytes,
                            ],
                            exhausted: u.exhausted,
                        },
                    )
                })
                .collect(),
        }
    }

    /// What changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        let mut c = Changes::default();
        if self.meta_dirty {
            self.meta_dirty = false;
            c.meta = Some(Meta {
                recovery: self.recovery,
                next_seid: self.next_seid,
            });
        }
        if self.assoc_dirty {
            self.assoc_dirty = false;
            c.associations = Some(
                self.assocs
                    .values()
                    .map(|a| AssociationRecord {
                        node_id: ie_bytes(&a.node_id),
                        addr: a.addr,
                        recovery: a.recovery,
                    })
                    .collect(),
            );
        }
        for seid in std::mem::take(&mut self.deleted) {
            c.sessions.push((seid, None));
        }
        for seid in std::mem::take(&mut self.dirty) {
            if let Some(s) = self.sessions.get(&seid) {
                c.sessions.push((seid, Some(self.record(s))));
            }
        }
        c
    }

    /// Takes the store out, for a writer of its own (the daemon commits on another thread while
    /// it goes on serving); changes are still tracked for [`N4::take_changes`].
    pub fn take_store(&mut self) -> Option<Store> {
        self.store.take()
    }

    /// Writes what changed to the store, durably; a no-op without one.
    pub fn commit(&mut self) -> Result<(), crate::store::StoreError> {
        if self.store.is_none() {
            return Ok(());
        }
        let c = self.take_changes();
        match &self.store {
            Some(st) => st.commit(&c),
            None => Ok(()),
        }
    }

    /// Takes back what `snap` holds. `fresh_maps`: the datapath's maps were created new (no
    /// pins), so every session is installed again; otherwise the pinned maps hold them and
    /// their slots are taken over, and lookup keys no session owns are swept away. Returns the
    /// sessions restored.
    pub fn restore(
        &mut self,
        snap: Snapshot,
        fresh_maps: bool,
        now: Instant,
    ) -> anyhow::Result<usize> {
        if let Some(m) = snap.meta {
            self.next_seid = self.next_seid.max(m.next_seid);
        }
        for a in snap.associations {
            let node_id = NodeId::decode(&a.node_id, 0)
                .map_err(|e| anyhow::anyhow!("stored Node ID: {e}"))?;
            self.assocs.insert(
                node_id.clone(),
                Association {
                    node_id,
                    addr: a.addr,
                    recovery: a.recovery,
                    next_heartbeat: now + self.cfg.heartbeat_interval,
                    heartbeat_pending: false,
                },
            );
        }
        let ntp = super::ntp_now();
        let mut restored = 0;
        for (seid, r) in snap.sessions {
            let rules = Rules::decode(&r.rules)
                .map_err(|e| anyhow::anyhow!("stored rules of session {seid}: {e}"))?;
            let node =
                NodeId::decode(&r.node, 0).map_err(|e| anyhow::anyhow!("stored Node ID: {e}"))?;
            let mut urrs = VecMap::new();
            for (id, u) in &r.urrs {
                let Some(rule) = rules.urrs.get(id) else {
                    continue;
                };
                let ago = Duration::from_secs(u64::from(ntp.wrapping_sub(u.start)));
                let base = if fresh_maps {
                    UrrCounters::default()
                } else {
                    UrrCounters {
                        _reserved: 0,
                        ul_packets: u.base[0],
                        ul_bytes: u.base[1],
                        dl_packets: u.base[2],
                        dl_bytes: u.base[3],
                    }
                };
                let mut st = UrrState::new(rule, base, now.checked_sub(ago).unwrap_or(now));
                st.seqn = u.seqn;
                st.start = u.start;
                st.exhausted = u.exhausted;
                urrs.insert(*id, st);
            }
            let installed = if fresh_maps {
                let spec = super::session::spec_for(&rules, &urrs, r.index, &self.local)
                    .map_err(|e| anyhow::anyhow!("session {seid}: {}", e.why))?;
                self.dp.install(&spec)?
            } else {
                Installed::from_parts(&r.installed)
            };
            for t in &r.teids {
                self.teids.take(u128::from(*t));
            }
            for a in &r.ue {
                if let Some(p) = self.pools.iter_mut().find(|p| p.contains(*a)) {
                    p.take(*a);
                }
            }
            self.indices.take(u128::from(r.index));
            for k in &r.keys {
                self.keys.insert(*k, seid);
            }
            self.by_index.insert(r.index, seid);
            self.by_cp.insert((node.clone(), r.cp_seid), seid);
            let mut chosen = VecMap::new();
            for (c, f) in &r.chosen {
                chosen.insert(
                    *c,
                    FTeid::decode(f, 0).map_err(|e| anyhow::anyhow!("stored F-TEID: {e}"))?,
                );
            }
            let session = Session {
                cp: FSeid {
                    seid: r.cp_seid,
                    ipv4: r.cp_v4,
                    ipv6: r.cp_v6,
                },
                node,
                rules,
                installed: Some(installed),
                index: r.index,
                teids: r.teids.iter().copied().collect(),
                chosen,
                ue: r
                    .ue
                    .iter()
                    .copied()
                    .collect::<crate::vec_map::VecSet<IpAddr>>(),
                keys: r.keys.clone(),
                urrs,
                buffer: Default::default(),
            };
            let (rules, states) = (session.rules.clone(), session.urrs.clone());
            self.sessions.insert(seid, Box::new(session));
            self.schedule(seid, &rules, &states);
            self.next_seid = self.next_seid.max(seid + 1);
            if fresh_maps {
                self.touch(seid);
            }
            restored += 1;
        }
        if !fresh_maps {
            let parts: Vec<_> = self
                .sessions
                .values()
                .filter_map(|s| s.installed.as_ref().map(Installed::parts))
                .collect();
            let refs: Vec<_> = parts.iter().collect();
            self.dp.adopt(&refs);
            let owned: HashSet<Key> = self.keys.keys().copied().collect();
            let swept = self.dp.sweep_keys(&owned)?;
            if swept > 0 {
                tracing::warn!(swept, "lookup keys of sessions never stored were removed");
            }
        }
        self.meta_dirty = true;
        Ok(restored)
    }
}

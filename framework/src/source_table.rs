//! [`SourceTable`]: the slab and generation counter every table of a
//! loop's registered sources shares (connections, listeners, UDP
//! endpoints, watched fds), and [`SourceKey`], the typed key that names
//! one source for its whole life. A slot is reused after a removal; the
//! generation tells the new occupant from the old, so a stale handle or
//! a queued item for a source that is gone finds nothing. The epoll token
//! of a source is its kind ([`SourceKind`]) and its slot.

use mio::Token;
use slab::Slab;

/// One registered source: its slot in the table (what an epoll token
/// carries) and its generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SourceKey {
    slot: u32,
    generation: u32,
}

impl SourceKey {
    /// The table slot, as epoll tokens carry it.
    pub(crate) fn slot(self) -> usize {
        self.slot as usize
    }
}

struct Entry<T> {
    generation: u32,
    value: T,
}

/// A slab whose entries are named by [`SourceKey`]s.
pub(crate) struct SourceTable<T> {
    slab: Slab<Entry<T>>,
    next_generation: u32,
}

impl<T> Default for SourceTable<T> {
    fn default() -> Self {
        Self {
            slab: Slab::new(),
            next_generation: 0,
        }
    }
}

impl<T> SourceTable<T> {
    /// The key the next [`insert`](Self::insert) gives, for what must be
    /// set up with it first (an epoll registration).
    pub(crate) fn next_key(&self) -> SourceKey {
        SourceKey {
            slot: self.slab.vacant_key() as u32,
            generation: self.next_generation.wrapping_add(1),
        }
    }

    /// Stores `value` under a new key.
    pub(crate) fn insert(&mut self, value: T) -> SourceKey {
        self.next_generation = self.next_generation.wrapping_add(1);
        let generation = self.next_generation;
        let slot = self.slab.insert(Entry { generation, value }) as u32;
        SourceKey { slot, generation }
    }

    /// The source `key` names, unless it is gone.
    #[inline]
    pub(crate) fn get(&self, key: SourceKey) -> Option<&T> {
        self.slab
            .get(key.slot())
            .filter(|e| e.generation == key.generation)
            .map(|e| &e.value)
    }

    /// As [`get`](Self::get), mutably.
    #[inline]
    pub(crate) fn get_mut(&mut self, key: SourceKey) -> Option<&mut T> {
        self.slab
            .get_mut(key.slot())
            .filter(|e| e.generation == key.generation)
            .map(|e| &mut e.value)
    }

    /// Whatever occupies `slot` (an epoll event names only the slot), with
    /// its key.
    #[inline]
    pub(crate) fn get_by_slot_mut(&mut self, slot: usize) -> Option<(SourceKey, &mut T)> {
        let entry = self.slab.get_mut(slot)?;
        let key = SourceKey {
            slot: slot as u32,
            generation: entry.generation,
        };
        Some((key, &mut entry.value))
    }

    /// Takes the source `key` names out of the table.
    pub(crate) fn remove(&mut self, key: SourceKey) -> Option<T> {
        self.get(key)?;
        Some(self.slab.remove(key.slot()).value)
    }

    /// Gives the source a new generation (`start_tls` makes a new
    /// transport of a connection), so every key to it goes stale; its new
    /// key, unless it is gone.
    pub(crate) fn renumber(&mut self, key: SourceKey) -> Option<(SourceKey, &mut T)> {
        let next = self.next_generation.wrapping_add(1);
        let entry = self
            .slab
            .get_mut(key.slot())
            .filter(|e| e.generation == key.generation)?;
        entry.generation = next;
        self.next_generation = next;
        let key = SourceKey {
            slot: key.slot,
            generation: next,
        };
        Some((key, &mut entry.value))
    }

    /// Every source, with its key.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (SourceKey, &T)> {
        self.slab.iter().map(|(slot, e)| {
            let key = SourceKey {
                slot: slot as u32,
                generation: e.generation,
            };
            (key, &e.value)
        })
    }

    /// Every source, mutably, with its key.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (SourceKey, &mut T)> {
        self.slab.iter_mut().map(|(slot, e)| {
            let key = SourceKey {
                slot: slot as u32,
                generation: e.generation,
            };
            (key, &mut e.value)
        })
    }

    /// How many sources there are.
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }
}

/// What an epoll token names; the kind sits in the token's top 16 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceKind {
    /// An fd watched with `add_reader`/`add_writer`.
    Watch = 1,
    /// A connected stream transport.
    Conn = 2,
    /// A listening socket.
    Listener = 3,
    /// A UDP endpoint.
    Datagram = 4,
}

const KIND_SHIFT: u32 = 48;

/// The epoll token of source `key` of `kind`.
pub(crate) fn token(kind: SourceKind, key: usize) -> Token {
    Token(((kind as usize) << KIND_SHIFT) | key)
}

/// Splits a token made by [`token`]; `None` for the loop's own tokens.
pub(crate) fn split_token(token: Token) -> Option<(SourceKind, usize)> {
    let key = token.0 & ((1 << KIND_SHIFT) - 1);
    let kind = match token.0 >> KIND_SHIFT {
        1 => SourceKind::Watch,
        2 => SourceKind::Conn,
        3 => SourceKind::Listener,
        4 => SourceKind::Datagram,
        _ => return None,
    };
    Some((kind, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_slot_does_not_answer_to_the_old_key() {
        let mut table = SourceTable::default();
        let predicted = table.next_key();
        let a = table.insert("a");
        assert_eq!(a, predicted);
        assert_eq!(table.get(a), Some(&"a"));
        assert_eq!(table.remove(a), Some("a"));
        let b = table.insert("b");
        assert_eq!(b.slot(), a.slot(), "the slot is reused");
        assert_eq!(table.get(a), None);
        assert_eq!(table.remove(a), None, "a stale key removes nothing");
        assert_eq!(table.get(b), Some(&"b"));
        assert_eq!(table.get_by_slot_mut(b.slot()).map(|(k, _)| k), Some(b));
    }

    #[test]
    fn renumbering_makes_every_old_key_stale() {
        let mut table = SourceTable::default();
        let old = table.insert(1);
        let (new, value) = table.renumber(old).unwrap();
        *value = 2;
        assert_ne!(new, old);
        assert_eq!(table.get(old), None);
        assert_eq!(table.get(new), Some(&2));
        assert!(table.renumber(old).is_none());
        assert_eq!(
            table.iter().map(|(k, v)| (k, *v)).collect::<Vec<_>>(),
            [(new, 2)]
        );
        assert_eq!(table.len(), 1);
    }
}

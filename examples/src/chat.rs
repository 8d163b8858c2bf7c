//! A line-based chat room spread over every loop of a runtime: each loop
//! keeps its own clients (a [`Sharded`] room, never shared or locked), and
//! every line a client sends is broadcast through the mailboxes to every
//! loop, which writes it to its own clients.

use std::cell::RefCell;

use loopcore::{Protocol, RuntimeHandle, Sharded, Transport};
use slab::Slab;

use crate::lines::Lines;

/// The longest line a client may send.
pub const MAX_LINE: usize = 4096;

/// One loop's share of the room.
#[derive(Debug, Default)]
pub struct Room {
    clients: RefCell<Slab<Transport>>,
}

impl Room {
    fn send_to_all(&self, line: &[u8]) {
        for (_, transport) in self.clients.borrow().iter() {
            // A client that is closing misses the line.
            let _ = transport.write(line);
        }
    }
}

/// The room over every loop of `runtime`.
pub fn room(runtime: &RuntimeHandle) -> Sharded<Room> {
    Sharded::new(runtime, |_| Room::default())
}

/// One chat client.
#[derive(Debug)]
pub struct ChatClient {
    room: Sharded<Room>,
    runtime: RuntimeHandle,
    transport: Option<Transport>,
    key: Option<usize>,
    lines: Lines,
    name: String,
}

impl ChatClient {
    /// A client of `room`, in a runtime whose handle is `runtime`.
    pub fn new(room: Sharded<Room>, runtime: RuntimeHandle) -> Self {
        Self {
            room,
            runtime,
            transport: None,
            key: None,
            lines: Lines::new(MAX_LINE),
            name: String::new(),
        }
    }

    fn broadcast(&self, line: Vec<u8>) {
        let room = self.room.clone();
        let line: std::sync::Arc<[u8]> = line.into();
        self.runtime.broadcast(move |_| {
            let _ = room.with_local(|room| room.send_to_all(&line));
        });
    }
}

impl Protocol for ChatClient {
    fn connection_made(&mut self, transport: Transport) {
        self.name = match transport.peername() {
            Ok(addr) => addr.to_string(),
            Err(_) => "someone".to_owned(),
        };
        let key = self
            .room
            .with_local(|room| room.clients.borrow_mut().insert(transport.clone()));
        self.key = key.ok();
        let _ = transport.write(format!("welcome, {}\n", self.name).as_bytes());
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let mut outgoing = Vec::new();
        let name = &self.name;
        let pushed = self.lines.push(data, |line| {
            outgoing.push(format!("{name}: {}\n", String::from_utf8_lossy(line)).into_bytes());
        });
        for line in outgoing {
            self.broadcast(line);
        }
        if pushed.is_err() {
            if let Some(transport) = &self.transport {
                let _ = transport.write(b"line too long, bye\n");
                transport.close();
            }
        }
    }

    fn connection_lost(&mut self, _error: Option<std::io::Error>) {
        if let Some(key) = self.key.take() {
            let _ = self.room.with_local(|room| {
                room.clients.borrow_mut().try_remove(key);
            });
        }
    }

    fn shutdown_requested(&mut self) {
        if let Some(transport) = &self.transport {
            let _ = transport.write(b"server shutting down, bye\n");
            transport.close();
        }
    }
}

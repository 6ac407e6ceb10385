//! The testing kit, tested on a small app with a database (`support::NotesApp`).

mod assertions;
mod database;
mod requests;
mod support;
mod time;

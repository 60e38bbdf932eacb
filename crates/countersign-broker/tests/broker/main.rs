//! The broker over real HTTP on 127.0.0.1:0, driven by the real gate client.

mod api;
mod decide;
mod fixture;
mod persistence;

//! The broker over real HTTP on 127.0.0.1:0, driven by the real gate client.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

mod api;
mod attacks;
mod batch;
mod cosign;
mod decide;
mod edit;
mod fixture;
mod hardening;
mod impact;
mod long_poll;
mod novelty;
mod openapi;
mod persistence;
mod policy;
mod policy_runtime;
mod replicas;
mod team;
mod team_client;
mod two_approvers;
mod unauthenticated;

//! Local stand-ins for systems outside the project, speaking their real wire protocol, for
//! the demo, the tests, and for a municipality trying a route before going live.

pub mod fachverfahren;
pub mod fit_connect;
pub mod xta;

//! single_flight

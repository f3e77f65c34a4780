//! Strom's connectors: files, datagen, Nexmark, print and blackhole.

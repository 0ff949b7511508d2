;; A policy built for WASI: it imports fd_write, which dffmpeg never
;; provides. It must be refused at load, naming the import.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "dffmpeg_policy_abi_1"))
  (func (export "dffmpeg_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "dffmpeg_describe") (result i64) (i64.const 0))
  (func (export "dffmpeg_plan_chunks") (param i32 i32) (result i64) (i64.const 0))
  (func (export "dffmpeg_assign") (param i32 i32) (result i64) (i64.const 0)))

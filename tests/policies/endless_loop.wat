;; A policy that never answers: its plan and every decision loop forever.
;; dffmpeg must stop it by fuel, decide with its built-in default, and
;; switch it off for the job after three failures in a row.
(module
  (import "dffmpeg" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"ok\":{\"name\":\"endless-loop\"}}")
  (data (i32.const 64) "thinking forever")
  (func (export "dffmpeg_policy_abi_1"))
  (func (export "dffmpeg_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "dffmpeg_describe") (result i64) (i64.const 30))
  (func (export "dffmpeg_plan_chunks") (param i32 i32) (result i64)
    (call $log (i32.const 2) (i32.const 64) (i32.const 16))
    (loop (br 0))
    unreachable)
  (func (export "dffmpeg_assign") (param i32 i32) (result i64)
    (loop (br 0))
    unreachable))

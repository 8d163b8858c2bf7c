//! Steering a `SO_REUSEPORT` group by the CPU that received the packet: a
//! classic BPF program attached with `SO_ATTACH_REUSEPORT_CBPF` that
//! returns `cpu % sockets` as the index of the socket to use.

use std::io;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::AsRawFd;
use std::os::fd::BorrowedFd;

/// Makes the group `socket` belongs to pick socket `cpu % sockets` for
/// each new connection, where `cpu` is the CPU processing the SYN. Sockets
/// are numbered in the order they started listening.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn steer_by_cpu(_socket: BorrowedFd<'_>, _sockets: u32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Balance::IncomingCpu needs Linux's SO_ATTACH_REUSEPORT_CBPF",
    ))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn steer_by_cpu(socket: BorrowedFd<'_>, sockets: u32) -> io::Result<()> {
    if sockets == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a reuseport group needs at least one socket",
        ));
    }
    let code = |c: u32| c as u16;
    let mut program = [
        // A = the CPU number (an ancillary load).
        libc::sock_filter {
            code: code(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS),
            jt: 0,
            jf: 0,
            k: (libc::SKF_AD_OFF + libc::SKF_AD_CPU) as u32,
        },
        // A %= sockets
        libc::sock_filter {
            code: code(libc::BPF_ALU | libc::BPF_MOD | libc::BPF_K),
            jt: 0,
            jf: 0,
            k: sockets,
        },
        // return A
        libc::sock_filter {
            code: code(libc::BPF_RET | libc::BPF_A),
            jt: 0,
            jf: 0,
            k: 0,
        },
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: `fprog` points at `program`, both alive for the call; the
    // kernel copies the program and validates it; the size is the struct's.
    let ret = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            std::ptr::addr_of!(fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    super::cvt(ret).map(drop)
}

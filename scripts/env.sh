# Sourced by the scripts: where the lasting tools live, and PATH for cargo builds.
# UPF_LB_TOOLS survives across runs on one machine (bpf-linker keeps an rpath into it), so it is
# not under /tmp and not under the work tree (a fresh clone must not rebuild it).
export UPF_LB_TOOLS="${UPF_LB_TOOLS:-$HOME/.local/share/upf-lb-tools}"
export UPF_LB_VENV="${UPF_LB_VENV:-$UPF_LB_TOOLS/venv}"
case ":$PATH:" in
    *":$UPF_LB_TOOLS/bin:"*) ;;
    *) export PATH="$UPF_LB_TOOLS/bin:$PATH" ;;
esac

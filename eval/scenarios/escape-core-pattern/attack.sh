: >> /proc/sys/kernel/core_pattern

# SPDX-License-Identifier: Apache-2.0
# Make the bash completion of evercert from docs/cmd/*.txt, the same source
# as --help and the man pages, so that it offers what they document: the
# commands, each command's words (ca init) and its options, from SYNOPSIS
# and OPTIONS. Inputs: SRC (folder), DOCS (names), OUT.
separate_arguments(DOCS)
set(cmds "")
set(cases "")
foreach(d ${DOCS})
  file(STRINGS ${SRC}/${d}.txt lines)
  set(sect "")
  set(mine 0)
  set(opts "")
  set(words "")
  foreach(l IN LISTS lines)
    if(l MATCHES "^[A-Z][A-Z ]+$")
      set(sect "${l}")
      continue()
    endif()
    set(take 0)
    if(sect STREQUAL "SYNOPSIS")
      # A form of another command (check-config names monitor's) is not this one's.
      if(l MATCHES "^    evercert ([a-z][-a-z]*)")
        if(CMAKE_MATCH_1 STREQUAL d)
          set(mine 1)
          if(l MATCHES "^    evercert [-a-z]+ ([a-z]+)( |$)")
            list(APPEND words ${CMAKE_MATCH_1})
          endif()
        else()
          set(mine 0)
        endif()
        if(d STREQUAL "evercert")
          set(mine 1)
        endif()
      endif()
      set(take ${mine})
    elseif(sect STREQUAL "OPTIONS" AND l MATCHES "^    -")
      set(take 1)
    endif()
    if(take)
      # A bracket would join list items in CMake; options never hold one.
      string(REPLACE "[" " " l "${l}")
      string(REPLACE "]" " " l "${l}")
      string(REPLACE "|" " " l "${l}")
      string(REPLACE "," " " l "${l}")
      string(REGEX MATCHALL " --?[A-Za-z0-9][-A-Za-z0-9]*" found "${l}")
      foreach(o IN LISTS found)
        string(STRIP "${o}" o)
        list(APPEND opts ${o})
      endforeach()
    endif()
  endforeach()
  list(REMOVE_DUPLICATES opts)
  list(SORT opts)
  string(REPLACE ";" " " opts "${opts}")
  if(d STREQUAL "evercert")
    set(top_opts "${opts}")
    continue()
  endif()
  list(APPEND cmds ${d})
  string(REPLACE ";" " " words "${words}")
  string(APPEND cases "    ${d})\n        opts=\"${opts}\"\n        words=\"${words}\"\n        ;;\n")
endforeach()
list(APPEND cmds help)
string(REPLACE ";" " " cmds "${cmds}")
file(WRITE ${OUT} "# SPDX-License-Identifier: Apache-2.0
# bash completion for evercert, made from docs/cmd/*.txt by docs/gen-completion.cmake.
_evercert()
{
    local cur cmd opts words
    cur=\${COMP_WORDS[COMP_CWORD]}
    if [ \"\$COMP_CWORD\" -eq 1 ]; then
        mapfile -t COMPREPLY < <(compgen -W \"${cmds} ${top_opts}\" -- \"\$cur\")
        return 0
    fi
    cmd=\${COMP_WORDS[1]}
    case \$cmd in
    help)
        [ \"\$COMP_CWORD\" -eq 2 ] && mapfile -t COMPREPLY < <(compgen -W \"${cmds}\" -- \"\$cur\")
        return 0
        ;;
${cases}    *)
        return 0
        ;;
    esac
    if [ \"\$COMP_CWORD\" -eq 2 ] && [ -n \"\$words\" ]; then
        mapfile -t COMPREPLY < <(compgen -W \"\$words\" -- \"\$cur\")
        return 0
    fi
    # An option's name; anything else (files, host:port) is left to the shell.
    if [[ \$cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W \"\$opts\" -- \"\$cur\")
    fi
    return 0
}
complete -o default -o bashdefault -F _evercert evercert
")

